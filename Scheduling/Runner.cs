using System.Collections.Concurrent;
using Ksana.Wire;
using Polly;

namespace Ksana.Scheduling;

/*
 * The runner: the one owner of runs in flight.
 *
 * It starts a run (at most one per job: runs of a job never overlap), records it as "running"
 * before the first attempt so a crash mid-run is found at the next start, sends its first attempt
 * and, when the retry rules could retry it, hands the run to the one retry pipeline for the rest,
 * and records how it ended. A slot that comes due while the job's
 * run is in flight is recorded here as skipped. Attempts hold a worker (WORKERS) only while they
 * are on the wire: a run waiting for its next retry holds nothing. The outbound side is a delegate
 * that turns one immutable request into a closed outcome; nothing calls back into the runner.
 */
public sealed class Runner
{
    readonly JobTable _table;
    readonly TimeProvider _time;
    readonly ILogger _log;
    readonly SendAttempt _send;
    readonly SemaphoreSlim _workers;
    readonly string _userAgent;
    readonly ResiliencePipeline<AttemptOutcome> _retry;
    readonly ConcurrentDictionary<Guid, RunInFlight> _inFlight = new();

    /// <summary>The runs' stop sources, reused from one run to the next (see <see cref="RunInFlight.StopToken"/>).</summary>
    internal SourcePool Stops { get; } = new(() => new CancellationTokenSource());
    // Runs started while every worker was busy. They wait here as plain entries, and a worker that
    // comes free hands one to the thread pool: a burst of 10 000 due slots then neither wakes every
    // pool thread at once nor parks 10 000 async chains on the worker semaphore (which would live
    // long enough to be promoted by the garbage collector).
    readonly ConcurrentQueue<RunInFlight> _ready = new();
    // How many runs _ready holds (at least: counted up before an enqueue, down after a dequeue).
    // Kept apart because the scheduler reads it for every slot it fires, and ConcurrentQueue.Count
    // takes a lock once the queue spans segments, as 1,000 runs do.
    int _readyCount;
    // Runs handed to the thread pool (or started inline) that have not yet got their first worker:
    // until they do, the semaphore's count alone would overstate the room.
    int _unseated;
    volatile bool _draining;

    /// <summary>Whether runs queue events for EVENTS_URL (SPEC §9).</summary>
    public bool EventsOn { get; init; }

    public Runner(JobTable table, TimeProvider time, ILogger<Runner> log, SendAttempt send, int workers, string userAgent)
    {
        _table = table;
        _time = time;
        _log = log;
        _send = send;
        _workers = new SemaphoreSlim(workers, workers);
        _userAgent = userAgent;
        _retry = RetryPolicy.Pipeline(time, () => _draining, RecordRetrying);
        _failedLines = new LogBudget(time, "failed runs");
        _unrecordedLines = new LogBudget(time, "runs not recorded");
        _unclaimedLines = new LogBudget(time, "slots not fired for want of the database");
        _notHereLines = new LogBudget(time, "slots not fired here");
    }

    // Lines that can come once per run or per slot, thousands a second (see LogBudget).
    readonly LogBudget _failedLines;
    readonly LogBudget _unrecordedLines;
    readonly LogBudget _unclaimedLines;
    readonly LogBudget _notHereLines;

    public bool Draining => _draining;

    /// <summary>
    /// How many runs may wait for a worker before the scheduler holds further due slots in its plan
    /// (<see cref="Backlogged"/>). A thousand runs are 20 ms of work at 50 000 callbacks a second,
    /// many ticks of the scheduler (1 ms apart while slots are due), so the workers never run dry.
    /// </summary>
    public int ReadyMax { get; init; } = 1000;

    /// <summary>
    /// Whether <see cref="ReadyMax"/> runs already wait for a worker. The scheduler then starts no
    /// more for now: a due slot waits in its plan, a value in an array that the garbage collector
    /// does not trace, rather than as a run whose objects, alive for as long as it waits, a young
    /// collection copies and promotes. At 50 000 jobs under overload that queue held 30 000 runs,
    /// and every collection paused the process for about 100 ms.
    /// </summary>
    public bool Backlogged => Volatile.Read(ref _readyCount) >= ReadyMax;

    /// <summary>Signs each attempt (SPEC §8) with the secrets in force when it is sent; null or a null answer: unsigned.</summary>
    public SignDelivery? Sign { get; init; }

    /// <summary>HOST_CONCURRENCY (SPEC §10); null: no cap per host.</summary>
    public HostSlots? Hosts { get; init; }

    /// <summary>Cluster mode (SPEC §12): every run is claimed in the database before its first attempt; null on a single box.</summary>
    public ClaimRun? Claim { get; init; }

    /// <summary>Told as runs start and attempts go out and come back (metrics); nobody by default.</summary>
    public RunObserver Observer { get; set; } = RunObserver.None;

    public RunInFlight? InFlight(Guid jobId) => _inFlight.GetValueOrDefault(jobId);

    /// <summary>
    /// Starts a run of <paramref name="job"/> at once, unless one is already in flight or Ksana is
    /// shutting down: then null. Otherwise the run id, and a task that completes when the run's
    /// first record is durable (at once for scheduled runs, whose record rides a lazy batch).
    /// </summary>
    public (string RunId, Task Recorded)? Start(Job job, DateTimeOffset scheduledAt, RunTrigger trigger, bool inline = false)
    {
        if (!Room(job)) return null;
        var run = new RunInFlight(this, job, Run.NewId(_time.GetUtcNow()), trigger, scheduledAt);
        return Start(run, urgent: trigger == RunTrigger.Manual, inline) is { } recorded ? (run.RunId, recorded) : null;
    }

    /// <summary>
    /// The scheduler's start of a due slot: as <see cref="Start(Job, DateTimeOffset, RunTrigger, bool)"/>,
    /// but nobody waits for the run's record or needs its id yet; false when it did not start.
    /// </summary>
    public bool StartScheduled(Job job, DateTimeOffset slot, bool inline = false) =>
        Room(job) && Start(new RunInFlight(this, job, Run.NewId(_time.GetUtcNow()), RunTrigger.Schedule, slot), urgent: false, inline) is not null;

    /// <summary>
    /// Looked at before a run is made: under overload most due slots find their job's run still in
    /// flight, and are skipped without making a run only to drop it.
    /// </summary>
    bool Room(Job job) => !_draining && !_inFlight.ContainsKey(job.Id);

    /// <summary>
    /// Delivers a failed run again (SPEC §4): the same run id, its earlier attempts kept, new ones
    /// numbered on; null when a run of the job is in flight or Ksana is shutting down.
    /// </summary>
    public (string RunId, Task Recorded)? Replay(Job job, Run failed)
    {
        var run = new RunInFlight(this, job, failed.RunId, failed.Trigger, failed.ScheduledAt, failed.Attempts, failed.Replays + 1);
        return Start(run, urgent: true, inline: false) is { } recorded ? (run.RunId, recorded) : null;
    }

    /// <summary>
    /// Cluster mode: run-now and replay (SPEC §4, §12) claim their run before they answer, so a 202
    /// names a run that will happen. Null with <see cref="ClaimResult.Claimed"/> when the job's run
    /// is in flight here or Ksana is shutting down; null with another result when the claim failed.
    /// </summary>
    public async Task<((string RunId, Task Recorded)? Started, ClaimResult Claim)> StartClaimedAsync(Job job, DateTimeOffset at, RunTrigger trigger, Run? replayOf = null)
    {
        var claim = Claim ?? throw new InvalidOperationException("No claim: not in cluster mode.");
        var run = replayOf is null
            ? new RunInFlight(this, job, Run.NewId(_time.GetUtcNow()), trigger, at)
            : new RunInFlight(this, job, replayOf.RunId, replayOf.Trigger, replayOf.ScheduledAt, replayOf.Attempts, replayOf.Replays + 1);
        if (_draining || !_inFlight.TryAdd(job.Id, run)) return (null, ClaimResult.Claimed);
        ClaimResult result;
        try
        {
            result = await claim(run, fenced: false);
        }
        catch
        {
            _inFlight.TryRemove(new KeyValuePair<Guid, RunInFlight>(job.Id, run));
            throw;
        }
        if (result != ClaimResult.Claimed || _draining)
        {
            _inFlight.TryRemove(new KeyValuePair<Guid, RunInFlight>(job.Id, run));
            return (null, result);
        }
        run.Claimed = true;
        return (Start(run, urgent: true, inline: false, added: true) is { } recorded ? (run.RunId, recorded) : null, ClaimResult.Claimed);
    }

    /// <summary>Starts <paramref name="run"/>; null when it did not start, else a task that completes when its first record is durable.</summary>
    Task? Start(RunInFlight run, bool urgent, bool inline, bool added = false)
    {
        if (_draining && !added) return null;
        var job = run.Job;
        if (!added && !_inFlight.TryAdd(job.Id, run)) return null;
        var recorded = Task.CompletedTask;
        if (urgent)
        {
            // run-now answers only once the run's record is on disk (SPEC §4), so it is written
            // here and urgently; a scheduled run writes its own on the thread that runs it.
            try
            {
                recorded = _table.PutRun(Running(run), urgent: true);
                run.Recorded = true;
            }
            catch
            {
                _inFlight.TryRemove(new KeyValuePair<Guid, RunInFlight>(job.Id, run));
                throw;
            }
        }
        // Only onto a free worker, inline or not: a run started inline with none free would wait on
        // the worker semaphore, and a freed worker goes to such a waiter first: it would overtake
        // the runs already waiting here, and park an async chain the ready queue exists to avoid.
        var room = _workers.CurrentCount - Volatile.Read(ref _unseated) > 0;
        if (room && inline)
        {
            Interlocked.Increment(ref _unseated);
            _ = RunAsync(run);
        }
        else if (room) Launch(run);
        else
        {
            Interlocked.Increment(ref _readyCount);
            _ready.Enqueue(run);
            // A worker freed between the look and the enqueue would not have seen this run.
            DispatchReady();
        }
        return recorded;
    }

    /// <summary>Hands waiting runs to the thread pool, as many as there are free workers (all of them when draining).</summary>
    void DispatchReady()
    {
        if (_ready.IsEmpty) return;
        var free = _draining ? int.MaxValue : _workers.CurrentCount - Volatile.Read(ref _unseated);
        while (free-- > 0 && _ready.TryDequeue(out var next))
        {
            Interlocked.Decrement(ref _readyCount);
            Launch(next);
        }
    }

    void Launch(RunInFlight run)
    {
        Interlocked.Increment(ref _unseated);
        ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
    }

    /// <summary>The run got its first worker, or will not get one: it no longer counts against the room.</summary>
    void Seated(RunInFlight run)
    {
        if (run.Seated) return;
        run.Seated = true;
        Interlocked.Decrement(ref _unseated);
    }

    /// <summary>
    /// Records a slot that came due while the job's run was in flight. Consecutive slots skipped
    /// behind one run share one record, written when the series opens and once more when that run
    /// ends: under overload, a record per slot would feed the overload.
    /// </summary>
    public void Skip(Job job, DateTimeOffset slot, DateTimeOffset now)
    {
        var running = _inFlight.GetValueOrDefault(job.Id);
        if (running is not null && running.NoteSkipped(slot, now, out var skips, out var first))
        {
            if (first) _ = _table.PutRun(SkipRecord(job.Id, skips, running.Id, now));
        }
        else
        {
            _ = _table.PutRun(SkipRecord(job.Id, new RunInFlight.Skips(Run.NewId(now), 1, slot, slot), running?.Id ?? Guid.Empty, now));
        }
    }

    static Run SkipRecord(Guid jobId, RunInFlight.Skips skips, Guid blocker, DateTimeOffset now) =>
        Run.Skipped(skips.RecordId, jobId, new SkipSeries(skips.Count, skips.First, skips.Last, blocker), Clock.Millis(now));

    static Run Running(RunInFlight run) =>
        new(run.Id, run.Job.Id, run.Trigger, RunStatus.Running, run.ScheduledAt, null, run.Attempts, null) { Replays = run.Replays };

    internal async Task RunAsync(RunInFlight run)
    {
        if (Claim is { } claim && !run.Claimed && !await ClaimedAsync(claim, run)) return;
        AttemptOutcome last;
        try
        {
            // Written before the first attempt, so a crash mid-run is found at the next start.
            if (!run.Recorded) _ = _table.PutRun(Running(run));
            // The first attempt goes out directly; only an outcome that may be retried enters the
            // retry pipeline (see RetriesAsync).
            last = await AttemptAsync(run, run.StopToken);
            if (RetryPolicy.Retries(last, 0, run, _draining)) last = await RetriesAsync(run, last);
        }
        catch (Exception e)
        {
            // A bug must not leave the run 'running' for ever or take the loop down.
            _log.LogError(e, "Run {RunId} of job {JobId} failed unexpectedly", run.RunId, run.Job.Id);
            last = new AttemptOutcome(AttemptResult.Failed, null, $"internal error: {e.Message}");
        }
        try
        {
            Finish(run, last);
        }
        catch (ChangeLogUnavailableException e)
        {
            if (_unrecordedLines.Allows(_log, LogLevel.Error))
                _log.LogError("Run {RunId} finished but could not be recorded: {Error}", run.RunId, e.Message);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<Guid, RunInFlight>(run.Job.Id, run));
            Seated(run);
            run.Finish();
            DispatchReady();
        }
    }

    /// <summary>
    /// Cluster mode: a scheduled run claims its slot, fenced by the job's lease, before anything is
    /// written or sent. A run that is not this node's ends here without a trace: another node fires
    /// (or fired) that slot.
    /// </summary>
    async Task<bool> ClaimedAsync(ClaimRun claim, RunInFlight run)
    {
        ClaimResult result;
        try
        {
            result = await claim(run, fenced: run.Trigger == RunTrigger.Schedule);
        }
        catch (Exception e)
        {
            _log.LogError(e, "Run {RunId} of job {JobId}: the claim failed unexpectedly", run.RunId, run.Job.Id);
            result = ClaimResult.Unavailable;
        }
        if (result == ClaimResult.Claimed)
        {
            run.Claimed = true;
            return true;
        }
        switch (result)
        {
            case ClaimResult.Unavailable when _unclaimedLines.Allows(_log, LogLevel.Warning):
                _log.LogWarning("Job {JobId}: slot {Slot} not fired: the database cannot be reached to claim it", run.Job.Id, run.ScheduledAt);
                break;
            case ClaimResult.NotOwner when _notHereLines.Allows(_log, LogLevel.Information):
                _log.LogInformation("Job {JobId}: slot {Slot} not fired here: this node's lease on it has expired", run.Job.Id, run.ScheduledAt);
                break;
            case ClaimResult.Busy when run.Trigger == RunTrigger.Schedule && _notHereLines.Allows(_log, LogLevel.Information):
                _log.LogInformation("Job {JobId}: slot {Slot} not fired here: a run of it is in flight on another node", run.Job.Id, run.ScheduledAt);
                break;
        }
        _inFlight.TryRemove(new KeyValuePair<Guid, RunInFlight>(run.Job.Id, run));
        run.CloseSkips();
        Seated(run);
        run.Finish();
        DispatchReady();
        return false;
    }

    /// <summary>
    /// The retries of a run whose first attempt went out directly: most runs end with that one, and
    /// the retry pipeline's async layers cost four state machines per run on the heap (a quarter of
    /// all that a callback allocated). The first outcome enters the pipeline as its attempt 0,
    /// answered at once, so Polly decides, waits and retries exactly as if it had sent it itself.
    /// </summary>
    async Task<AttemptOutcome> RetriesAsync(RunInFlight run, AttemptOutcome first)
    {
        var context = RetryPolicy.Context(run);
        run.HandOverFirstOutcome(first);
        try
        {
            var outcome = await _retry.ExecuteOutcomeAsync(
                static async (ctx, state) => Outcome.FromResult(state.Run.TakeFirstOutcome() is { } known ? known
                    : await state.Runner.AttemptAsync(state.Run, ctx.CancellationToken)),
                context, (Runner: this, Run: run));
            // Stopped while waiting for a retry: the run ends with what its last attempt said.
            if (outcome.Exception is OperationCanceledException) return new AttemptOutcome(AttemptResult.Cancelled, null, null);
            outcome.ThrowIfException();
            return outcome.Result!;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
            DoneWaiting(run);
        }
    }

    async Task<AttemptOutcome> AttemptAsync(RunInFlight run, CancellationToken cancel)
    {
        DoneWaiting(run);
        if (_draining) return new AttemptOutcome(AttemptResult.Cancelled, null, null);
        HostSlots.Lease? host = null;
        try
        {
            // The host's slot comes first, so an attempt held back by its host holds no worker.
            if (Hosts is { } hosts)
            {
                // A run held back by its host must not hold back the runs of other hosts waiting behind it.
                Seated(run);
                host = await hosts.AcquireAsync(HostSlots.KeyOf(run.Job.Spec.Http.Url), cancel);
            }
            // Queueing for a worker is not part of the attempt: its timeout starts once it has one.
            await _workers.WaitAsync(cancel);
            Seated(run);
        }
        catch (OperationCanceledException)
        {
            Seated(run);
            host?.Dispose();
            return new AttemptOutcome(AttemptResult.Cancelled, null, null);
        }
        try
        {
            if (_draining) return new AttemptOutcome(AttemptResult.Cancelled, null, null);
            var number = run.AttemptCount + 1;
            var now = _time.GetUtcNow();
            var started = Clock.Millis(now);
            if (number == 1) Observer.RunStarted(now - PlannedAt(run));
            run.BeginAttempt(started);
            var request = AttemptRequests.For(run, number, _userAgent, _time.GetUtcNow().ToUnixTimeSeconds(), Sign);
            var clock = _time.GetTimestamp();
            Observer.AttemptStarted();
            var outcome = new AttemptOutcome(AttemptResult.Cancelled, null, null);
            try
            {
                outcome = await _send(request, cancel);
            }
            finally
            {
                // Also when the sender broke its promise and threw: the in-flight count must come back down.
                Observer.AttemptFinished(outcome, _time.GetElapsedTime(clock));
            }
            var elapsed = (long)_time.GetElapsedTime(clock).TotalMilliseconds;
            run.EndAttempt(new Attempt(number, started, elapsed, outcome.StatusCode, RetryPolicy.AttemptError(outcome, run.StopReason), outcome.Response));
            return outcome;
        }
        finally
        {
            _workers.Release();
            host?.Dispose();
            DispatchReady();
        }
    }

    /// <summary>
    /// When a run's first attempt was due: a scheduled run's slot plus its jitter (the fire time the
    /// scheduler planned); a run-now's moment of asking, so its lateness is the wait for a worker.
    /// </summary>
    static DateTimeOffset PlannedAt(RunInFlight run) =>
        run.Trigger == RunTrigger.Schedule ? run.Job.Spec.Schedule.FireTime(run.Job.Id, run.ScheduledAt) : run.ScheduledAt;

    /// <summary>Ends the retry wait that <see cref="RecordRetrying"/> reported, if one is open.</summary>
    void DoneWaiting(RunInFlight run)
    {
        if (!run.WaitingForRetry) return;
        run.WaitingForRetry = false;
        Observer.RetryDone();
    }

    void RecordRetrying(RunInFlight run)
    {
        run.WaitingForRetry = true;
        Observer.RetryWaiting();
        try
        {
            _ = _table.PutRun(new Run(run.Id, run.Job.Id, run.Trigger, RunStatus.Retrying, run.ScheduledAt, null, run.Attempts, null) { Replays = run.Replays });
        }
        catch (ChangeLogUnavailableException)
        {
            // The final record is what matters; it is written (or logged) when the run ends.
        }
    }

    void Finish(RunInFlight run, AttemptOutcome last)
    {
        var skipped = run.CloseSkips();
        if (run.StopReason == StopReason.JobDeleted) return;
        var now = _time.GetUtcNow();
        if (skipped.Count > 1) _ = _table.PutRun(SkipRecord(run.Job.Id, skipped, run.Id, now));
        var status = last.Result == AttemptResult.Succeeded ? RunStatus.Succeeded : RunStatus.Failed;
        var error = RetryPolicy.RunError(last, run, _draining);
        var finished = new Run(run.Id, run.Job.Id, run.Trigger, status, run.ScheduledAt, Clock.Millis(now), run.Attempts, error) { Replays = run.Replays };
        _ = _table.FinishRun(finished, (Runner: this, Run: run, Finished: finished, At: Clock.Millis(now)), static (job, s) =>
        {
            // Under the table's lock: whoever reads the final record also finds the job free for its next run.
            s.Runner._inFlight.TryRemove(new KeyValuePair<Guid, RunInFlight>(s.Run.Job.Id, s.Run));
            return RunConsequences.Of(job, s.Finished, s.Runner.EventsOn, s.At);
        });
        if (status == RunStatus.Failed && _failedLines.Allows(_log, LogLevel.Warning))
            _log.LogWarning("Run {RunId} of job {JobId} ({Name}) failed: {Error}", run.RunId, run.Job.Id, run.Job.Spec.Name, error);
    }

    /// <summary>Stops the run of a deleted job: its attempt in flight and any retry still to come.</summary>
    public void Forget(Guid jobId)
    {
        if (_inFlight.TryGetValue(jobId, out var run)) run.Stop(StopReason.JobDeleted);
    }

    /// <summary>Completes when no run is in flight (tests, and the drain on shutdown).</summary>
    public Task IdleAsync() => Task.WhenAll(_inFlight.Values.Select(r => r.Completion));

    /// <summary>
    /// SIGTERM: start no new attempt, abandon retries still waiting, let attempts in flight finish
    /// (each is bounded by its own timeout), and wait for their records.
    /// </summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        // Runs still waiting for a worker end now, recorded as not started.
        DispatchReady();
        while (!_inFlight.IsEmpty)
        {
            foreach (var run in _inFlight.Values)
                if (!run.InAttempt && run.StopReason == StopReason.None)
                    run.Stop(StopReason.ShuttingDown);
            await Task.WhenAny(IdleAsync(), Task.Delay(TimeSpan.FromMilliseconds(50), _time));
            if (cancellationToken.IsCancellationRequested) break;
        }
        if (!_inFlight.IsEmpty)
            _log.LogWarning("Shutdown timed out with {Count} runs in flight; they will be marked interrupted at the next start", _inFlight.Count);
    }
}
