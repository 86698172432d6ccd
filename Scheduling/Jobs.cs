using Ksana.Storage;

namespace Ksana.Scheduling;

/// <summary>What a client asked to change, already validated against the job's current state.</summary>
public readonly record struct JobChange(JobSpec Spec, bool ScheduleGiven);

/// <summary>
/// The job lifecycle of SPEC §2: create, change, pause, resume, delete, run now, and the repairs
/// made at start-up. The timing rules live here (and in <see cref="ScheduleMath"/>), not in handlers.
/// Each method returns once the change is durable.
/// </summary>
public sealed class Jobs(JobStore store, Scheduler scheduler, TimeProvider time)
{
    /// <summary>Times are kept to the millisecond: they are shown to people and compared by machines.</summary>
    public DateTimeOffset Now() => Clock.Millis(time.GetUtcNow());

    public JobEntry? Get(Guid id) => store.Get(id);

    public (List<JobEntry> Page, bool More) List(JobQuery query) => store.List(query);

    /// <summary>The next time the job fires on its schedule, as shown to clients.</summary>
    public DateTimeOffset? NextRunAt(Job job) => ScheduleMath.NextAfter(job, time.GetUtcNow());

    public async Task<Job> CreateAsync(JobSpec spec)
    {
        var now = Now();
        var (job, durable) = store.Create(new Job(Guid.NewGuid(), spec, now, now, spec.Schedule.StartAt ?? now, OnceOutcome.Pending, 0));
        await durable;
        return job;
    }

    /// <summary>
    /// Applies a change computed from the job's current state. <paramref name="change"/> may be
    /// called more than once if the job changes concurrently; it returns null (and keeps its own
    /// errors) to reject the change. Returns null when the job does not exist.
    /// </summary>
    public async Task<Job?> UpdateAsync(Guid id, Func<Job, JobChange?> change)
    {
        for (var attempt = 0; ; attempt++)
        {
            var current = store.Get(id)?.Job;
            if (current is null) return null;
            if (change(current) is not { } wanted) return current;
            var now = Now();
            Run? missed = null;
            var conflict = false;
            var result = store.Update(id, latest =>
            {
                if (latest.Seq != current.Seq)
                {
                    conflict = true;
                    return null;
                }
                var next = Apply(latest, wanted, now);
                missed = MissedRun(latest, next, now, "run_at passed while the job was paused");
                return next;
            });
            if (result is null) return null;
            if (conflict && attempt < 10) continue;
            if (conflict) throw new InvalidOperationException("the job kept changing while this change was applied");
            await Settle(result.Value.Durable, missed);
            return result.Value.Job;
        }
    }

    /// <summary>
    /// The rules of SPEC §2 for a change: a new schedule restarts the grid from now (or from its
    /// start_at) and re-arms a once job; enabling a once job whose run_at has passed marks it missed.
    /// </summary>
    public static Job Apply(Job current, JobChange change, DateTimeOffset now)
    {
        var job = current with { Spec = change.Spec, UpdatedAt = now };
        if (change.ScheduleGiven)
            return job with { GridOrigin = change.Spec.Schedule.StartAt ?? now, Once = OnceOutcome.Pending };
        if (!current.Spec.Enabled && change.Spec.Enabled) return MissIfPassed(job, now);
        return job;
    }

    static Job MissIfPassed(Job job, DateTimeOffset now) =>
        job.Spec.Schedule.Kind == ScheduleKind.Once && job.Once == OnceOutcome.Pending && job.Spec.Schedule.RunAt < now
            ? job with { Once = OnceOutcome.Missed }
            : job;

    static Run? MissedRun(Job before, Job after, DateTimeOffset now, string why) =>
        before.Once != OnceOutcome.Missed && after.Once == OnceOutcome.Missed
            ? new Run(Run.NewId(), after.Id, RunTrigger.Schedule, RunStatus.Missed, after.Spec.Schedule.RunAt, now, [], why, 0)
            : null;

    async Task Settle(Task durable, Run? missed)
    {
        var recorded = missed is null ? Task.CompletedTask : store.PutRun(missed);
        await durable;
        await recorded;
    }

    public Task<Job?> PauseAsync(Guid id) =>
        UpdateAsync(id, job => job.Spec.Enabled ? new JobChange(job.Spec with { Enabled = false }, false) : null);

    public Task<Job?> ResumeAsync(Guid id) =>
        UpdateAsync(id, job => job.Spec.Enabled ? null : new JobChange(job.Spec with { Enabled = true }, false));

    public async Task<bool> DeleteAsync(Guid id)
    {
        var durable = store.Delete(id);
        if (durable is null) return false;
        scheduler.Forget(id);
        await durable;
        return true;
    }

    public enum RunNowResult { Started, NotFound, AlreadyRunning }

    /// <summary>One extra run now; the schedule is untouched. Works on paused and finished jobs.</summary>
    public async Task<(RunNowResult Result, string? RunId)> RunNowAsync(Guid id)
    {
        var job = store.Get(id)?.Job;
        if (job is null) return (RunNowResult.NotFound, null);
        if (scheduler.StartRun(job, Now(), RunTrigger.Manual) is not { } started)
            return (RunNowResult.AlreadyRunning, scheduler.InFlightRun(id)?.RunId);
        await started.Recorded;
        return (RunNowResult.Started, started.RunId);
    }

    /// <summary>
    /// Start-up repairs (SPEC §2, §5): a run left in flight by a crash is failed as interrupted; a
    /// once job whose run_at passed while Ksana was down is missed. Every job is then planned.
    /// </summary>
    public async Task RecoverAsync()
    {
        var now = Now();
        var writes = new List<Task>();
        var entries = store.All();
        foreach (var entry in entries)
        {
            foreach (var run in entry.Runs)
                if (!run.IsFinished)
                    writes.Add(store.PutRun(run with
                    {
                        Status = RunStatus.Failed,
                        FinishedAt = now,
                        Error = "interrupted: Ksana stopped while this run was in flight",
                    }));
            var job = entry.Job;
            if (job.Spec.Enabled && MissIfPassed(job, now) is { Once: OnceOutcome.Missed } missed)
            {
                var update = store.Update(job.Id, _ => missed);
                if (update is { } u) writes.Add(u.Durable);
                writes.Add(store.PutRun(MissedRun(job, missed, now, "Ksana was not running at run_at")!));
            }
        }
        await Task.WhenAll(writes);
        scheduler.PlanAll(writes.Count == 0 ? entries : store.All());
    }
}
