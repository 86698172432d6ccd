using System.Collections.Concurrent;
using Ksana.Storage;

namespace Ksana.Scheduling;

/*
 * The scheduler loop.
 *
 * One thread of control owns the plan: a priority queue of (job, due time) and a dictionary with
 * each job's one planned slot. Everyone else talks to it through a lock-free inbox of job ids that
 * changed (the store raises them). Each tick:
 *   1. pops every slot due at or before now; a slot whose job vanished or no longer has that slot
 *      is dropped (stale entries are cheaper than deleting from a heap), the rest are fired:
 *      a run ticket is queued to the thread pool, so thousands of slots due at one instant are
 *      dispatched in parallel rather than one after another;
 *   2. plans the job's next slot on its fixed grid, after max(slot, now): a stall never makes up
 *      slots, and runs never drift;
 *   3. drains the inbox, re-planning each changed job from now.
 * A slot that comes due while the job's previous run is still in flight is recorded as skipped.
 *
 * The loop is a PeriodicTimer whose period follows the next due slot (1 ms to 1 s), so an idle
 * server wakes once a second and a busy one is on time to the millisecond. A change from outside
 * sets the period to 1 ms, which re-arms the pending wait at once. Tests drive Tick() directly with
 * a FakeTimeProvider; the loop itself is a thin shell around it.
 */
public sealed class Scheduler : BackgroundService
{
    public static readonly TimeSpan TickMin = TimeSpan.FromMilliseconds(1);
    public static readonly TimeSpan TickMax = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs a tick starts on its own thread before handing the rest to the thread pool. Starting a
    /// run inline costs the loop only until the request is written, and saves a thread wake-up per
    /// run when slots are spread; a burst of slots due at once still fans out to every core.
    /// </summary>
    public const int InlineStartsPerTick = 8;

    readonly JobStore _store;
    readonly TimeProvider _time;
    readonly ILogger _log;
    readonly Func<RunTicket, Task<RunOutcome>> _deliver;
    readonly PriorityQueue<Guid, long> _queue = new();
    readonly Dictionary<Guid, long> _planned = [];
    readonly ConcurrentQueue<Guid> _inbox = new();
    readonly ConcurrentDictionary<Guid, RunTicket> _inFlight = new();
    PeriodicTimer? _timer;
    long _periodTicks;
    volatile bool _draining;

    public Scheduler(JobStore store, TimeProvider time, ILogger<Scheduler> log, Func<RunTicket, Task<RunOutcome>> deliver)
    {
        _store = store;
        _time = time;
        _log = log;
        _deliver = deliver;
        store.Changed = OnChanged;
    }

    public bool Draining => _draining;

    public RunTicket? InFlightRun(Guid jobId) => _inFlight.GetValueOrDefault(jobId);

    /// <summary>Plans every job from now. Called once at start-up, before the loop runs.</summary>
    public void PlanAll(IEnumerable<JobEntry> entries)
    {
        var now = _time.GetUtcNow();
        foreach (var entry in entries) Plan(entry.Job.Id, entry.Job, now);
    }

    void OnChanged(Guid id)
    {
        _inbox.Enqueue(id);
        if (Interlocked.Read(ref _periodTicks) != TickMin.Ticks && _timer is { } timer)
        {
            Interlocked.Exchange(ref _periodTicks, TickMin.Ticks);
            timer.Period = TickMin;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TickMin, _time);
        _periodTicks = TickMin.Ticks;
        _timer = timer;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Tick();
                AdjustPeriod(timer);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    void AdjustPeriod(PeriodicTimer timer)
    {
        var period = TickMax;
        if (_queue.TryPeek(out _, out var due))
        {
            var wait = TimeSpan.FromTicks(due - _time.GetUtcNow().UtcTicks);
            period = wait < TickMin ? TickMin : wait > TickMax ? TickMax : wait;
        }
        SetPeriod(timer, period);
        // A change that arrived after the tick drained the inbox must not wait a whole period.
        if (!_inbox.IsEmpty) SetPeriod(timer, TickMin);
    }

    void SetPeriod(PeriodicTimer timer, TimeSpan period)
    {
        if (Interlocked.Exchange(ref _periodTicks, period.Ticks) != period.Ticks) timer.Period = period;
    }

    /// <summary>One pass of the loop (see the header). Returns the number of slots fired.</summary>
    public int Tick()
    {
        var now = _time.GetUtcNow();
        var fired = 0;
        while (_queue.TryPeek(out var id, out var dueTicks) && dueTicks <= now.UtcTicks)
        {
            _queue.Dequeue();
            if (!_planned.TryGetValue(id, out var planned) || planned != dueTicks) continue;
            var job = _store.Get(id)?.Job;
            var due = new DateTimeOffset(dueTicks, TimeSpan.Zero);
            if (job is null || ScheduleMath.NextAfter(job, due.AddTicks(-1)) != due)
            {
                Plan(id, job, now);
                continue;
            }
            try
            {
                Fire(job, due, now, inline: fired < InlineStartsPerTick);
                fired++;
            }
            catch (JournalUnavailableException e)
            {
                _log.LogError("Job {JobId}: slot {Due} not fired, the journal is unavailable: {Error}", id, due, e.Message);
            }
            Plan(id, _store.Get(id)?.Job, due > now ? due : now);
        }
        while (_inbox.TryDequeue(out var changed))
            Plan(changed, _store.Get(changed)?.Job, _time.GetUtcNow());
        return fired;
    }

    void Plan(Guid id, Job? job, DateTimeOffset after)
    {
        var next = job is null ? null : ScheduleMath.NextAfter(job, after);
        if (next is not { } due)
        {
            _planned.Remove(id);
            return;
        }
        if (_planned.TryGetValue(id, out var planned) && planned == due.UtcTicks) return;
        _planned[id] = due.UtcTicks;
        _queue.Enqueue(id, due.UtcTicks);
    }

    void Fire(Job job, DateTimeOffset due, DateTimeOffset now, bool inline)
    {
        if (job.Spec.Schedule.Kind == ScheduleKind.Once)
            _ = _store.Update(job.Id, j => j.Once == OnceOutcome.Pending ? j with { Once = OnceOutcome.Fired } : null);
        if (StartRun(job, due, RunTrigger.Schedule, inline) is not null) return;
        // Consecutive slots skipped behind one run share one record, written when the series opens
        // and once more when that run ends: under overload, a record per slot would feed the overload.
        var running = _inFlight.GetValueOrDefault(job.Id);
        if (running is not null && running.NoteSkipped(due, out var skips, out var first))
        {
            if (first) _ = _store.PutRun(SkipRecord(job.Id, skips, running.RunId, now));
        }
        else
        {
            _ = _store.PutRun(SkipRecord(job.Id, new RunTicket.Skips(Run.NewId(), 1, due, due), running?.RunId, now));
        }
    }

    static Run SkipRecord(Guid jobId, RunTicket.Skips skips, string? blocker, DateTimeOffset now) =>
        new(skips.RecordId, jobId, RunTrigger.Schedule, RunStatus.Skipped, skips.First, Clock.Millis(now), [],
            skips.Count == 1
                ? $"skipped: the previous run {blocker} was still in flight"
                : $"{skips.Count} slots skipped, {Rfc3339.Format(skips.First)} to {Rfc3339.Format(skips.Last)}: the previous run {blocker} was still in flight",
            0);

    /// <summary>
    /// Starts a run of <paramref name="job"/> at once, unless one is already in flight (runs of a
    /// job never overlap) or Ksana is shutting down: then null. Otherwise the run id, and a task
    /// that completes when the run's first record is durable (at once for scheduled runs).
    /// </summary>
    public (string RunId, Task Recorded)? StartRun(Job job, DateTimeOffset scheduledAt, RunTrigger trigger, bool inline = false)
    {
        if (_draining) return null;
        var ticket = new RunTicket(this, job, Run.NewId(), trigger, scheduledAt);
        if (!_inFlight.TryAdd(job.Id, ticket)) return null;
        var recorded = Task.CompletedTask;
        if (trigger == RunTrigger.Manual)
        {
            // run-now answers only once the run's record is on disk (SPEC §4), so it is written
            // here and urgently; a scheduled run writes its own on the thread that runs it.
            try
            {
                recorded = _store.PutRun(Running(ticket), urgent: true);
                ticket.Recorded = true;
            }
            catch
            {
                _inFlight.TryRemove(new KeyValuePair<Guid, RunTicket>(job.Id, ticket));
                throw;
            }
        }
        if (inline) _ = RunAsync(ticket);
        else ThreadPool.UnsafeQueueUserWorkItem(ticket, preferLocal: false);
        return (ticket.RunId, recorded);
    }

    static Run Running(RunTicket ticket) =>
        new(ticket.Id, ticket.Job.Id, ticket.Trigger, RunStatus.Running, ticket.ScheduledAt, null, [], null, 0);

    internal async Task RunAsync(RunTicket ticket)
    {
        RunOutcome outcome;
        try
        {
            // Written before the first attempt, so a crash mid-run is found at the next start.
            if (!ticket.Recorded) _ = _store.PutRun(Running(ticket));
            outcome = await _deliver(ticket);
        }
        catch (Exception e)
        {
            // A bug in delivery must not leave the run 'running' for ever or take the loop down.
            _log.LogError(e, "Run {RunId} of job {JobId} failed unexpectedly", ticket.RunId, ticket.Job.Id);
            outcome = new RunOutcome(RunStatus.Failed, $"internal error: {e.Message}");
        }
        try
        {
            var skipped = ticket.CloseSkips();
            if (ticket.StopReason != StopReason.JobDeleted && skipped.Count > 1)
                _ = _store.PutRun(SkipRecord(ticket.Job.Id, skipped, ticket.RunId, _time.GetUtcNow()));
            if (ticket.StopReason != StopReason.JobDeleted)
            {
                var finished = new Run(ticket.Id, ticket.Job.Id, ticket.Trigger, outcome.Status, ticket.ScheduledAt,
                    Clock.Millis(_time.GetUtcNow()), ticket.Attempts, outcome.Error, 0);
                _ = _store.PutRun(finished);
                if (outcome.Status == RunStatus.Failed)
                    _log.LogWarning("Run {RunId} of job {JobId} ({Name}) failed: {Error}",
                        ticket.RunId, ticket.Job.Id, ticket.Job.Spec.Name, outcome.Error);
            }
        }
        catch (JournalUnavailableException e)
        {
            _log.LogError("Run {RunId} finished but could not be recorded: {Error}", ticket.RunId, e.Message);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<Guid, RunTicket>(ticket.Job.Id, ticket));
            ticket.Finish();
        }
    }

    internal void RecordRetrying(RunTicket ticket)
    {
        try
        {
            _ = _store.PutRun(new Run(ticket.Id, ticket.Job.Id, ticket.Trigger, RunStatus.Retrying, ticket.ScheduledAt,
                null, ticket.Attempts, null, 0));
        }
        catch (JournalUnavailableException)
        {
            // The final record is what matters; it is written (or logged) when the run ends.
        }
    }

    /// <summary>Stops the run of a deleted job: its attempt in flight and any retry still to come.</summary>
    public void Forget(Guid jobId)
    {
        if (_inFlight.TryGetValue(jobId, out var ticket)) ticket.Stop(StopReason.JobDeleted);
    }

    /// <summary>Completes when no run is in flight (tests, and the drain on shutdown).</summary>
    public Task IdleAsync() => Task.WhenAll(_inFlight.Values.Select(t => t.Completion));

    /// <summary>
    /// SIGTERM: start no new attempt, abandon retries still waiting, let attempts in flight finish
    /// (each is bounded by its own timeout), and wait for their records.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        await base.StopAsync(cancellationToken);
        while (!_inFlight.IsEmpty)
        {
            foreach (var ticket in _inFlight.Values)
                if (!ticket.InAttempt && ticket.StopReason == StopReason.None)
                    ticket.Stop(StopReason.ShuttingDown);
            var idle = IdleAsync();
            await Task.WhenAny(idle, Task.Delay(TimeSpan.FromMilliseconds(50), _time));
            if (cancellationToken.IsCancellationRequested) break;
        }
        if (!_inFlight.IsEmpty)
            _log.LogWarning("Shutdown timed out with {Count} runs in flight; they will be marked interrupted at the next start", _inFlight.Count);
    }
}
