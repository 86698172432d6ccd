using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>What a client asked to change, already validated against the job's current state.</summary>
public readonly record struct JobChange(JobSpec Spec, bool ScheduleGiven);

/// <summary>
/// The job lifecycle of SPEC §2: create, change, pause, resume, delete, run now, and the repairs
/// made at start-up. The timing rules live here and in the schedule kinds, not in handlers. Each
/// method returns once the change is durable, or says why it was not made.
/// </summary>
public sealed class Jobs(JobTable table, Runner runner, TimeProvider time)
{
    /// <summary>Times are kept to the millisecond: they are shown to people and compared by machines.</summary>
    public DateTimeOffset Now() => Clock.Millis(time.GetUtcNow());

    public JobEntry? Get(Guid id) => table.Get(id);

    public JobEntry? GetByKey(string key) => table.GetByKey(key);

    static string KeyTaken(string key, Guid owner) => $"the key \"{key}\" is already used by job {owner}; keys are unique among jobs";

    public (List<JobEntry> Page, bool More) List(JobQuery query) => table.List(query);

    /// <summary>The next time the job fires on its schedule, jitter included, as shown to clients.</summary>
    public DateTimeOffset? NextRunAt(Job job) => job.NextAfter(time.GetUtcNow())?.FireAt;

    /// <summary>Why a create is refused at MAX_JOBS; made once, not on every create.</summary>
    string LimitReached => field ??= $"the job limit is reached ({table.MaxJobs} jobs, set by MAX_JOBS)";

    public async Task<JobResult<Job>> CreateAsync(JobSpec spec)
    {
        var now = Now();
        var owner = Guid.Empty;
        var result = await Durably(() =>
        {
            var created = table.Create(new Job(Ids.New(now), spec, now, now, now, OnceOutcome.Pending, 0), out owner);
            return created is { } c ? c : (null, null);
        }, LimitReached);
        return owner != Guid.Empty ? JobResult<Job>.Refused(Refusal.Conflict, KeyTaken(spec.Key!, owner)) : result;
    }

    /// <summary>
    /// PUT /jobs/by-key (SPEC §4): creates the job that holds <paramref name="key"/>, or changes it
    /// as <see cref="UpdateAsync"/> does. <paramref name="change"/> gets the current job (null when
    /// there is none, and its spec is then created) and returns null to reject the body or to say it
    /// changes nothing. Racing callers end with one job: the key is checked under the table's lock,
    /// and a create that loses the race becomes an update of the winner's job.
    /// </summary>
    public async Task<JobResult<(Job Job, bool Created)>> PutByKeyAsync(string key, Func<Job?, JobChange?> change)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            if (table.GetByKey(key)?.Job is { } current)
            {
                var updated = await UpdateAsync(current.Id, change);
                if (updated.Refusal == Refusal.NotFound) continue; // deleted meanwhile: create it again
                return updated.Value is { } job ? (job, false) : JobResult<(Job, bool)>.Refused(updated.Refusal, updated.Why);
            }
            if (change(null) is not { } wanted) return JobResult<(Job, bool)>.Refused(Refusal.None);
            var now = Now();
            try
            {
                var created = table.Create(new Job(Ids.New(now), wanted.Spec with { Key = key }, now, now, now, OnceOutcome.Pending, 0), out var owner);
                if (created is { } c)
                {
                    await c.Durable;
                    return (c.Job, true);
                }
                if (owner != Guid.Empty) continue; // another caller created it first: replace theirs
                return JobResult<(Job, bool)>.Refused(Refusal.Conflict, LimitReached);
            }
            catch (ChangeLogUnavailableException e)
            {
                return JobResult<(Job, bool)>.Refused(Refusal.Unavailable, e.Message);
            }
        }
        return JobResult<(Job, bool)>.Refused(Refusal.Conflict, "the job with this key kept changing while this change was applied; try again");
    }

    /// <summary>
    /// Applies a change computed from the job's current state. <paramref name="change"/> may be
    /// called more than once if the job changes concurrently; it returns null (and keeps its own
    /// errors) to reject the change, and the job is answered unchanged.
    /// </summary>
    public async Task<JobResult<Job>> UpdateAsync(Guid id, Func<Job, JobChange?> change)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var current = table.Get(id)?.Job;
            if (current is null) return JobResult<Job>.Refused(Refusal.NotFound);
            if (change(current) is not { } wanted) return current;
            var now = Now();
            Run? missed = null;
            DateTimeOffset? catchUp = null;
            var conflict = false;
            var keyOwner = Guid.Empty;
            try
            {
                var result = table.Update(id, latest =>
                {
                    conflict = latest.Version != current.Version;
                    if (conflict) return null;
                    // Under the table's lock, so two writers cannot both take a free key.
                    if (wanted.Spec.Key is { } key && table.KeyOwner(key) is { } owner && owner != id)
                    {
                        keyOwner = owner;
                        return null;
                    }
                    var next = Apply(latest, wanted, now);
                    missed = MissedRun(latest, next, now, "run_at passed while the job was paused");
                    // Resumed: the slots missed while paused (since its last change) may be made up.
                    catchUp = !latest.Spec.Enabled && next.Spec.Enabled && !wanted.ScheduleGiven
                        ? CatchUpSlot(latest, next, table.Get(id)?.Runs ?? [], now, latest.UpdatedAt)
                        : null;
                    return next;
                });
                if (result is null) return JobResult<Job>.Refused(Refusal.NotFound);
                if (conflict) continue;
                if (keyOwner != Guid.Empty) return JobResult<Job>.Refused(Refusal.Conflict, KeyTaken(wanted.Spec.Key!, keyOwner));
                var recorded = missed is null ? Task.CompletedTask : table.PutRun(missed);
                await result.Value.Durable;
                await recorded;
                if (catchUp is { } slot) StartCatchUp(result.Value.Job, slot, now);
                return result.Value.Job;
            }
            catch (ChangeLogUnavailableException e)
            {
                return JobResult<Job>.Refused(Refusal.Unavailable, e.Message);
            }
        }
        return JobResult<Job>.Refused(Refusal.Conflict, "the job kept changing while this change was applied; try again");
    }

    /// <summary>
    /// The rules of SPEC §2 for a change: a new schedule restarts the grid from now and re-arms a
    /// once job; enabling a once job whose run_at has passed marks it missed.
    /// </summary>
    public static Job Apply(Job current, JobChange change, DateTimeOffset now)
    {
        var job = current with { Spec = change.Spec, UpdatedAt = now };
        if (change.ScheduleGiven) job = job with { GridOrigin = now, Once = OnceOutcome.Pending };
        // Resuming clears why the server paused the job, and restarts the count that made it do so.
        if (!current.Spec.Enabled && change.Spec.Enabled) job = job with { PausedReason = null, StreakAtResume = current.FailureStreak };
        if (!current.Spec.Enabled && change.Spec.Enabled && !change.ScheduleGiven) return MissIfPassed(job, now);
        return job;
    }

    /// <summary>
    /// A once job whose run_at has passed is missed, or, when run_at is within its catch_up, fired:
    /// the caller then starts its run (<see cref="CatchUpSlot"/>).
    /// </summary>
    static Job MissIfPassed(Job job, DateTimeOffset now) =>
        job.Once == OnceOutcome.Pending && job.OnlySlot is { } slot && slot < now
            ? job with { Once = WithinCatchUp(job, slot, now) ? OnceOutcome.Fired : OnceOutcome.Missed }
            : job;

    static bool WithinCatchUp(Job job, DateTimeOffset slot, DateTimeOffset now) =>
        job.Spec.Schedule.Options.CatchUp is { } catchUp && slot <= now && now - slot <= catchUp.ToTimeSpan();

    /// <summary>
    /// The slot to make up (SPEC §2 catch_up) after a restart or on resume: the latest slot at or
    /// before now, if it is not older than catch_up, came due after <paramref name="since"/>, and
    /// was not served: no run of the schedule has it or a later slot. A job's run records are what
    /// Ksana knows of the slots it served, so they, not a clock reading, tell a missed slot from a
    /// served one. A slot whose jittered fire time is still ahead is left to the scheduler.
    /// </summary>
    static DateTimeOffset? CatchUpSlot(Job before, Job after, RunHistory runs, DateTimeOffset now, DateTimeOffset since)
    {
        var schedule = after.Spec.Schedule;
        if (schedule.Options.CatchUp is not { } catchUp || !after.Spec.Enabled) return null;
        if (schedule.FiresOnce)
            return before.Once == OnceOutcome.Pending && after.Once == OnceOutcome.Fired ? after.OnlySlot : null;
        if (after.Once != OnceOutcome.Pending) return null;
        var oldest = now - catchUp.ToTimeSpan();
        var served = DateTimeOffset.MinValue;
        foreach (var run in runs)
            if (run.Trigger == RunTrigger.Schedule && run.ScheduledAt > served) served = run.ScheduledAt;
        var notBefore = new[] { oldest, since, served.AddTicks(1) }.Max();
        if (schedule.LastSlotAtOrBefore(now, notBefore, after.GridOrigin) is not { } slot) return null;
        return schedule.FireTime(after.Id, slot) <= now ? slot : null;
    }

    /// <summary>Starts the run that makes up a missed slot; a run already in flight makes it a skip.</summary>
    void StartCatchUp(Job job, DateTimeOffset slot, DateTimeOffset now)
    {
        if (!runner.StartScheduled(job, slot) && !runner.Draining) runner.Skip(job, slot, now);
    }

    static Run? MissedRun(Job before, Job after, DateTimeOffset now, string why) =>
        before.Once != OnceOutcome.Missed && after.Once == OnceOutcome.Missed
            ? new Run(Run.NewId(now), after.Id, RunTrigger.Schedule, RunStatus.Missed, after.OnlySlot ?? now, now, [], why)
            : null;

    public Task<JobResult<Job>> PauseAsync(Guid id) =>
        UpdateAsync(id, job => job.Spec.Enabled ? new JobChange(job.Spec with { Enabled = false }, false) : null);

    public Task<JobResult<Job>> ResumeAsync(Guid id) =>
        UpdateAsync(id, job => job.Spec.Enabled ? null : new JobChange(job.Spec with { Enabled = true }, false));

    /// <summary>Deletes a job and its runs, and stops its run in flight; answers the deleted job.</summary>
    public Task<JobResult<Job>> DeleteAsync(Guid id) =>
        Durably(() =>
        {
            if (table.Delete(id) is not { } deleted) return (null, null);
            runner.Forget(id);
            return deleted;
        }, conflict: null);

    /// <summary>One extra run now; the schedule is untouched. Works on paused and finished jobs.</summary>
    public async Task<JobResult<string>> RunNowAsync(Guid id)
    {
        var job = table.Get(id)?.Job;
        if (job is null) return JobResult<string>.Refused(Refusal.NotFound);
        if (runner.Claim is not null) return await ClaimedAsync(id, runner.StartClaimedAsync(job, Now(), RunTrigger.Manual));
        return await Durably(() =>
        {
            if (runner.Start(job, Now(), RunTrigger.Manual) is { } started) return (started.RunId, started.Recorded);
            return (null, null);
        }, runner.Draining
            ? "Ksana is shutting down and starts no new runs"
            : $"run {runner.InFlight(id)?.RunId} of this job is still in flight; runs of one job never overlap");
    }

    /// <summary>
    /// Delivers a failed run again (SPEC §4): refused as not found when the run (or its job) is gone,
    /// and as a conflict when the run is not failed or a run of its job is in flight.
    /// </summary>
    public async Task<JobResult<string>> ReplayAsync(Guid runId)
    {
        if (RunQueries.Find(table, runId) is not ({ } entry, { } run)) return JobResult<string>.Refused(Refusal.NotFound);
        if (run.Status != RunStatus.Failed)
            return JobResult<string>.Refused(Refusal.Conflict, $"run {Run.Text(runId)} is {Names.Of(run.Status)}: only a failed run can be replayed");
        if (runner.Claim is not null) return await ClaimedAsync(entry.Job.Id, runner.StartClaimedAsync(entry.Job, run.ScheduledAt, run.Trigger, run));
        return await Durably(() => runner.Replay(entry.Job, run) is { } started ? (started.RunId, started.Recorded) : (null, null),
            runner.Draining
                ? "Ksana is shutting down and starts no new runs"
                : $"run {runner.InFlight(entry.Job.Id)?.RunId} of this job is in flight; runs of one job never overlap");
    }

    /// <summary>Cluster mode: run-now and replay answer once their claim and their first record are committed.</summary>
    async Task<JobResult<string>> ClaimedAsync(Guid jobId, Task<((string RunId, Task Recorded)? Started, ClaimResult Claim)> starting)
    {
        try
        {
            var (started, claim) = await starting;
            if (started is { } s)
            {
                await s.Recorded;
                return s.RunId;
            }
            return claim switch
            {
                ClaimResult.Unavailable => JobResult<string>.Refused(Refusal.Unavailable, "PostgreSQL cannot be reached to claim the run; nothing was started"),
                ClaimResult.Busy => JobResult<string>.Refused(Refusal.Conflict, "a run of this job is in flight on another node; runs of one job never overlap"),
                _ when runner.Draining => JobResult<string>.Refused(Refusal.Conflict, "Ksana is shutting down and starts no new runs"),
                _ => JobResult<string>.Refused(Refusal.Conflict, $"run {runner.InFlight(jobId)?.RunId} of this job is in flight; runs of one job never overlap"),
            };
        }
        catch (ChangeLogUnavailableException e)
        {
            return JobResult<string>.Refused(Refusal.Unavailable, e.Message);
        }
    }

    /// <summary>
    /// Makes a change through <paramref name="write"/> and waits until it is durable. A null value
    /// is refused as a conflict with <paramref name="conflict"/> (or as not found when that is null);
    /// a change log that takes no writes is refused as unavailable.
    /// </summary>
    static async Task<JobResult<T>> Durably<T>(Func<(T? Value, Task? Durable)> write, string? conflict)
    {
        try
        {
            var (value, durable) = write();
            if (value is null || durable is null)
                return JobResult<T>.Refused(conflict is null ? Refusal.NotFound : Refusal.Conflict, conflict);
            await durable;
            return value;
        }
        catch (ChangeLogUnavailableException e)
        {
            return JobResult<T>.Refused(Refusal.Unavailable, e.Message);
        }
    }

    /// <summary>
    /// Start-up repairs (SPEC §2, §5): a run left in flight by a crash is failed as interrupted; a
    /// once job whose run_at passed while Ksana was down is missed, or run when its catch_up allows;
    /// a repeating job with catch_up makes up its latest missed slot. Only the jobs replay marked
    /// can need one (<see cref="JobTable.TakeRepairCandidates"/>). Every job is then planned.
    /// </summary>
    public async Task RecoverAsync(Scheduler scheduler, bool clustered = false)
    {
        var candidates = table.TakeRepairCandidates();
        // Cluster mode: runs in flight may belong to live nodes, and the jobs are not yet this node's;
        // each partition is repaired by the node that takes it (TakeOverAsync).
        if (!clustered) await RepairAsync(candidates, interrupted: true);
        // The scheduler walks the table on its own thread as it starts, while the server starts on this one.
        scheduler.PlanAll(table.Entries);
    }

    /// <summary>
    /// Cluster mode: the repairs of start-up for the jobs of partitions this node has just taken
    /// (SPEC §12): slots that fell in the gap follow catch_up, and once jobs whose run_at passed are
    /// missed. Runs the previous holder left in flight are recorded by the cluster itself.
    /// </summary>
    public Task TakeOverAsync(IReadOnlyList<JobEntry> entries) => RepairAsync(entries, interrupted: false);

    /// <summary>
    /// A run that a crash interrupted ended failed, like any other (SPEC §9): it counts toward the
    /// job's failure streak and pause_after_failures, and sends run.failed when EVENTS_URL is set.
    /// </summary>
    Task Interrupted(Run failed, DateTimeOffset now) =>
        table.FinishRun(failed, job => RunConsequences.Of(job, failed, runner.EventsOn, now));

    async Task<bool> RepairAsync(IReadOnlyList<JobEntry> entries, bool interrupted)
    {
        var now = Now();
        var writes = new List<Task>();
        var catchUps = new List<(Guid Id, DateTimeOffset Slot)>();
        foreach (var found in entries)
        {
            var entry = found;
            var runs = found.Runs;
            // Read by key: a run is made whole only when it was in flight, not every kept run of every job.
            if (interrupted)
                for (var i = 0; i < runs.Length; i++)
                    if (!Run.Ended(runs.Key(i).Status) && runs[i] is var run)
                    {
                        writes.Add(Interrupted(run with
                        {
                            Status = RunStatus.Failed,
                            FinishedAt = now,
                            Error = "interrupted: Ksana stopped while this run was in flight",
                        }, now));
                        // The failure may have paused the job (pause_after_failures): what follows reads it as it is now.
                        entry = table.Get(found.Job.Id) ?? entry;
                    }
            // A run interrupted by the crash served its slot: it is failed above, not made up.
            if (entry.Job.Spec.Enabled && CatchUpSlot(entry.Job, MissIfPassed(entry.Job, now), entry.Runs, now, DateTimeOffset.MinValue) is { } slot)
                catchUps.Add((entry.Job.Id, slot));
            var job = entry.Job;
            if (job.Spec.Enabled && MissIfPassed(job, now) is var repaired && !ReferenceEquals(repaired, job))
            {
                if (table.Update(job.Id, _ => repaired) is { } u) writes.Add(u.Durable);
                if (MissedRun(job, repaired, now, "Ksana was not running at run_at") is { } missed) writes.Add(table.PutRun(missed));
            }
        }
        await Task.WhenAll(writes);
        foreach (var (id, slot) in catchUps)
            if (table.Get(id)?.Job is { Spec.Enabled: true } job) StartCatchUp(job, slot, now);
        return writes.Count > 0 || catchUps.Count > 0;
    }
}
