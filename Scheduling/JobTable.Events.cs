namespace Ksana.Scheduling;

/// <summary>
/// The end of a run and the events it causes (SPEC §9): they live in the table, in each job's
/// outbox, so that the run, its consequences for the job and its events change in one critical
/// section and reach the change log in the order that makes an event on disk imply its run.
/// </summary>
public sealed partial class JobTable
{
    /// <summary>Most events one job's outbox holds; past it the oldest is dropped (and counted).</summary>
    public const int OutboxMax = 1000;

    /// <summary>Raised under the lock when events are queued in a job's outbox.</summary>
    public Action<Guid>? EventsQueued { get; set; }

    /// <summary>
    /// Records how a run ended, with what follows from it, in one critical section: the events it
    /// causes first (so an event whose run is on disk is on disk too), then the job's new state
    /// (failure streak, pause), then the run. <paramref name="consequences"/> is given the job as
    /// it is now, under the lock.
    /// </summary>
    public Task FinishRun(Run run, Func<Job, (Job? Job, Event[] Events)> consequences) =>
        FinishRun(run, consequences, static (job, f) => f(job));

    /// <summary>As above, with the consequences' state passed in (the runner's path: no closure per run).</summary>
    public Task FinishRun<TState>(Run run, TState state, Func<Job, TState, (Job? Job, Event[] Events)> consequences)
    {
        lock (_lock)
        {
            if (_jobs.Get(run.JobId) is not { } entry) return Task.CompletedTask;
            var (job, events) = consequences(entry.Job, state);
            var next = entry;
            foreach (var e in events)
            {
                if (next.Outbox.Length >= OutboxMax)
                {
                    // A dead EVENTS_URL must not grow a job's outbox without bound: the oldest gives way.
                    var dropped = next.Outbox[0];
                    Append(Change.Delivered(run.JobId, dropped.Id), run.JobId, entry, urgent: false);
                    next = Without(next, dropped.Id);
                    Observer.EventDropped();
                }
                Append(Change.Queued(e), run.JobId, entry, urgent: false);
                next = next with { Outbox = [.. next.Outbox, e] };
            }
            if (job is not null)
            {
                job = job with { Version = _lastNumber + 1 };
                Append(Change.Written(job), run.JobId, entry, urgent: false);
                next = next with { Job = job };
            }
            var durable = Append(Change.Recorded(run), run.JobId, entry, urgent: false);
            var ends = run.IsFinished && !RunHistory.EndedBefore(entry.Runs, run.RunId);
            var runs = RunHistory.Upsert(entry.Runs, run, RunsKept, Overwrite);
            // Nearly always the job is as it was and no event is queued: the runs are written in place.
            if (ReferenceEquals(next, entry)) WriteRuns(entry, runs);
            else
            {
                next.WriteRuns(runs); // a new entry, not yet seen by anyone
                if (job is null) Replace(entry, next);
                else Set(run.JobId, next);
            }
            if (ends) Observer.RunFinished(run.Status, run.FinishedAt ?? default);
            if (events.Length > 0) EventsQueued?.Invoke(run.JobId);
            return durable;
        }
    }

    /// <summary>Takes a delivered event out of its job's outbox. Not urgent: a crash before it is durable only sends the event again.</summary>
    public void Delivered(Guid jobId, Guid eventId)
    {
        lock (_lock)
        {
            if (_jobs.Get(jobId) is not { } entry || Array.FindIndex(entry.Outbox, e => e.Id == eventId) < 0) return;
            Append(Change.Delivered(jobId, eventId), jobId, entry, urgent: false);
            _jobs.Set(Without(entry, eventId));
        }
    }

    static JobEntry Without(JobEntry entry, Guid eventId) => entry with { Outbox = Array.FindAll(entry.Outbox, e => e.Id != eventId) };

}
