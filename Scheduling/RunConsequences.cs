using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// What follows from a run's end (SPEC §2, §9), as a pure function of the job and the run: the
/// job's failure streak, the pause that <c>pause_after_failures</c> asks for, and the events for
/// EVENTS_URL, in the order they must be delivered.
/// </summary>
public static class RunConsequences
{
    public static (Job? Job, Event[] Events) Of(Job job, Run run, bool eventsOn, DateTimeOffset now)
    {
        switch (run.Status)
        {
            case RunStatus.Failed:
                var streak = job.FailureStreak + 1;
                var limit = job.Spec.PauseAfterFailures;
                var pause = limit > 0 && streak - job.StreakAtResume >= limit && job.Spec.Enabled;
                var failed = job with { FailureStreak = streak };
                if (pause)
                    failed = failed with
                    {
                        Spec = job.Spec with { Enabled = false },
                        PausedReason = $"paused after {limit} consecutive failed runs (pause_after_failures = {limit}); the last, {Run.Text(run.RunId)}, failed: {run.Error}",
                        UpdatedAt = now,
                    };
                Event[] events = !eventsOn ? []
                    : pause ? [New(Event.RunFailed, failed, run, now), New(Event.JobPaused, failed, run, now)]
                    : [New(Event.RunFailed, failed, run, now)];
                return (failed, events);
            case RunStatus.Succeeded when job.FailureStreak > 0:
                var recovered = job with { FailureStreak = 0, StreakAtResume = 0 };
                return (recovered, eventsOn ? [New(Event.JobRecovered, recovered, run, now)] : []);
            default:
                // Skipped and missed runs neither count nor reset the streak.
                return (null, []);
        }
    }

    static Event New(string type, Job job, Run run, DateTimeOffset now) =>
        new(Ids.New(now), type, now, job.Id, job.Spec.Key, job.Spec.Name, run);
}
