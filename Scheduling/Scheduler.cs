using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Ksana.Wire;

namespace Ksana.Scheduling;

/*
 * The scheduler loop.
 *
 * One thread of control owns the plan: a priority queue of (job, fire time) and a dictionary with
 * each job's one planned slot. Everyone else talks to it through a lock-free inbox of job ids that
 * changed (the table raises them). Each tick:
 *   1. pops every slot due at or before now; a slot whose job vanished or no longer has that slot
 *      is dropped (stale entries are cheaper than deleting from a heap), the rest are fired: the
 *      runner starts a run (queued to the thread pool, so thousands of slots due at one instant
 *      are dispatched in parallel), or records the slot as skipped when the job's run is in flight;
 *   2. plans the job's next slot after max(slot, now): a stall never makes up slots, and runs
 *      never drift;
 *   3. drains the inbox, re-planning each changed job from now.
 * While the runner is backlogged (a thousand runs already wait for a worker), step 1 stops: the due
 * slots wait in the plan, in the order they came due, and the next tick (1 ms on) goes on. A slot
 * that waits there past its job's next slot is fired late, and the slots it passed are treated as
 * in a stall: not made up and not recorded.
 *
 * The loop waits for the next due slot (1 ms to 1 s), so an idle server wakes once a second and a
 * busy one is on time to the millisecond. On the system clock it is a thread of its own in timed
 * waits on an event, which a change from outside sets (see TimedWaits: .NET's timers are only as
 * fine as Linux's coarse clock); on any other clock, a PeriodicTimer whose period a change sets to
 * 1 ms. Tests drive Tick() directly with a FakeTimeProvider; the loop itself is a thin shell around it.
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

    readonly JobTable _table;
    readonly Runner _runner;
    readonly TimeProvider _time;
    readonly ILogger _log;
    readonly PriorityQueue<Guid, long> _queue = new();
    readonly Dictionary<Guid, (long Slot, long FireAt)> _planned = [];
    readonly ConcurrentQueue<Guid> _inbox = new();
    PeriodicTimer? _timer;
    // The timer's period as last set, and the lock that sets both together (see SetPeriod).
    long _periodTicks;
    readonly Lock _periodLock = new();
    IEnumerable<JobEntry>? _toPlan; // given by PlanAll, planned as the loop starts (or by the next tick)
    DateTimeOffset _toPlanFrom;

    public Scheduler(JobTable table, Runner runner, TimeProvider time, ILogger<Scheduler> log)
    {
        _table = table;
        _runner = runner;
        _time = time;
        _log = log;
        TimedWaits = time == TimeProvider.System;
        table.Changed = OnChanged;
        _unwrittenLines = new LogBudget(time, "slots not fired for want of the journal");
        _lateLines = new LogBudget(time, "lines about late slots", burst: 1, window: TimeSpan.FromMinutes(1));
    }

    readonly LogBudget _unwrittenLines; // once per slot while the disk is full (see LogBudget)

    /// <summary>
    /// A slot fired this late says the loop stalled or fell behind; no job fires more often than
    /// once a second, so from here on a slot that came due meanwhile may have been passed over.
    /// </summary>
    static readonly TimeSpan LateWarn = TimeSpan.FromSeconds(1);

    // Passed-over slots are not recorded (see the header), so the log says that they happened: at
    // most one line a minute, however long the overload lasts.
    readonly LogBudget _lateLines;

    /// <summary>
    /// Cluster mode (SPEC §12): whether this node holds the lease of a job's partition. Every node
    /// plans every job; only the holder fires it (and its claim, fenced by the lease, is the proof).
    /// Null on a single box: every job is this node's.
    /// </summary>
    public Func<Guid, bool>? Owns { get; set; }

    /// <summary>
    /// Cluster mode: whether this node's leases are due for a renewal that has not come yet, so
    /// that it cannot tell whether it still owns its jobs (a slow round, or PostgreSQL gone). A slot
    /// of a job it does not own then waits in the plan for up to <see cref="RenewalWait"/>: if the
    /// renewal comes, the slot fires late, as after a stall; if not, it is passed over (SPEC §12: a
    /// node that cannot prove it owns a job stops firing it). Passing it over at once lost every
    /// slot that fell in a round that was merely slow, though no other node could have fired them.
    /// </summary>
    public Func<bool>? Renewing { get; set; }

    /// <summary>How long a slot waits for a late renewal (LEASE_TTL: past it, the lease may be another node's).</summary>
    public TimeSpan RenewalWait { get; set; }

    /// <summary>The loop's period while a slot waits for a renewal.</summary>
    static readonly TimeSpan RenewalPoll = TimeSpan.FromMilliseconds(10);

    bool _waitingForRenewal;

    /// <summary>
    /// Plans every job from now. Called once at start-up, before the loop runs; the planning itself
    /// is done as the loop starts (or by the first <see cref="Tick"/>), from the time of this call,
    /// so that start-up does not wait for it (at 100 000 jobs, tens of milliseconds; cron jobs take
    /// longer). A job changed meanwhile is in the inbox and is planned again by the first tick.
    /// </summary>
    public void PlanAll(IEnumerable<JobEntry> entries)
    {
        _toPlanFrom = _time.GetUtcNow();
        Volatile.Write(ref _toPlan, entries);
    }

    readonly TaskCompletionSource _firstPlan = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Done once the first plan (the one <see cref="PlanAll"/> asks for) is made, or failed, before the loop starts.</summary>
    public Task FirstPlanMade => _firstPlan.Task;

    /// <summary>How many jobs have a planned slot: the loop's own, so read it only once the loop is at rest (tests).</summary>
    internal int PlannedCount => _planned.Count;

    /// <summary>Makes the plan <see cref="PlanAll"/> asked for, if it is still to be made.</summary>
    void PlanPending()
    {
        if (Interlocked.Exchange(ref _toPlan, null) is not { } entries) return;
        // Sized once: 100 000 jobs would otherwise grow both by doubling, copying each time.
        var count = entries.TryGetNonEnumeratedCount(out var n) ? n : _table.Count;
        _planned.EnsureCapacity(count);
        _queue.EnsureCapacity(count);
        foreach (var entry in entries) Plan(entry.Job.Id, entry.Job, _toPlanFrom);
    }

    void OnChanged(Guid id)
    {
        _inbox.Enqueue(id);
        if (TimedWaits)
        {
            // At most one wake-up per long wait: a burst of creates is drained a tick at a time.
            if (Interlocked.Exchange(ref _wakeable, 0) == 1) _wake.Set();
            return;
        }
        if (Interlocked.Read(ref _periodTicks) != TickMin.Ticks && _timer is { } timer) SetPeriod(timer, TickMin);
    }

    /// <summary>
    /// Whether the loop runs on a thread of its own in timed waits (the system clock) rather than on
    /// a <see cref="PeriodicTimer"/> (any other clock: the tests' fake one). .NET's timers are due by
    /// <see cref="Environment.TickCount64"/>, which Linux serves from its coarse clock: in steps of
    /// 4 ms on a kernel ticking at 250 Hz (this project's machine), so a timer fired 2.3 ms late at
    /// the median and 4.4 ms at p90 (measured, 300 due times at random instants). A timed wait on
    /// an event is late by a few microseconds.
    /// </summary>
    internal bool TimedWaits { get; set; }

    readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    int _wakeable; // 1 while the loop waits longer than TickMin and a change should wake it

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The first plan (100 000 cron jobs: a few hundred milliseconds) on a thread of its own
        // before the loop starts, not on a pool thread that the server's first requests need.
        try
        {
            await Task.Factory.StartNew(PlanPending, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        finally
        {
            _firstPlan.TrySetResult();
        }
        if (TimedWaits)
        {
            await Task.Factory.StartNew(() => WaitingLoop(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return;
        }
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

    /// <summary>The loop on the system clock (see <see cref="TimedWaits"/>).</summary>
    void WaitingLoop(CancellationToken stopping)
    {
        using var stop = stopping.UnsafeRegister(static s => ((ManualResetEventSlim)s!).Set(), _wake);
        Thread.CurrentThread.Name = "ksana scheduler";
        while (!stopping.IsCancellationRequested)
        {
            var changes = !_inbox.IsEmpty;
            Tick();
            // Rounded up to the millisecond (the wait's unit), so that the loop never wakes before the slot.
            var wait = (int)Math.Ceiling(NextWait().TotalMilliseconds);
            // After changes, the next tick is at most TickMin away and no change cuts it short: a
            // thousand creates a second make a thousand ticks a second at most, as the timer did.
            if (changes) wait = Math.Min(wait, (int)TickMin.TotalMilliseconds);
            else if (wait > TickMin.TotalMilliseconds)
            {
                Interlocked.Exchange(ref _wakeable, 1);
                // A change that came after the tick drained the inbox, before the line above.
                if (!_inbox.IsEmpty) wait = (int)TickMin.TotalMilliseconds;
            }
            _wake.Wait(wait);
            Volatile.Write(ref _wakeable, 0);
            _wake.Reset();
        }
    }

    /// <summary>
    /// The wait to the next due slot, from TickMin to TickMax; TickMin while due slots wait for a
    /// worker, RenewalPoll while they wait for a lease renewal.
    /// </summary>
    TimeSpan NextWait()
    {
        if (!_queue.TryPeek(out _, out var due)) return TickMax;
        var wait = TimeSpan.FromTicks(due - _time.GetUtcNow().UtcTicks);
        return wait < TickMin ? (_waitingForRenewal ? RenewalPoll : TickMin) : wait > TickMax ? TickMax : wait;
    }

    void AdjustPeriod(PeriodicTimer timer)
    {
        SetPeriod(timer, NextWait());
        // A change that arrived after the tick drained the inbox must not wait a whole period.
        if (!_inbox.IsEmpty) SetPeriod(timer, TickMin);
    }

    /// <summary>
    /// Sets the timer's period and its record together, under a lock. Set apart, a change arriving
    /// while the loop set a longer period could leave the record at 1 ms and the timer at the longer
    /// one; while slots stayed due (overload), no later call saw a difference to mend, and the loop
    /// ticked twice a second instead of every millisecond.
    /// </summary>
    void SetPeriod(PeriodicTimer timer, TimeSpan period)
    {
        lock (_periodLock)
        {
            if (_periodTicks == period.Ticks) return;
            Interlocked.Exchange(ref _periodTicks, period.Ticks);
            timer.Period = period;
        }
    }

    /// <summary>The loop timer's period and the period this scheduler last set (tests: they must agree).</summary>
    internal (TimeSpan? Timer, TimeSpan Set) Periods
    {
        get
        {
            lock (_periodLock) return (_timer?.Period, TimeSpan.FromTicks(_periodTicks));
        }
    }

    /// <summary>One pass of the loop (see the header). Returns the number of slots fired.</summary>
    public int Tick()
    {
        PlanPending();
        var now = _time.GetUtcNow();
        var fired = 0;
        var late = 0;
        var lateTicksMax = 0L;
        _waitingForRenewal = false;
        // Not while the runner is backlogged: a due slot waits here, as a value, not as a run (see the header).
        while (!_runner.Backlogged && _queue.TryPeek(out var id, out var dueTicks) && dueTicks <= now.UtcTicks)
        {
            _queue.Dequeue();
            if (!_planned.TryGetValue(id, out var planned) || planned.FireAt != dueTicks) continue;
            var job = _table.Get(id)?.Job;
            var slot = new DateTimeOffset(planned.Slot, TimeSpan.Zero);
            var due = new DateTimeOffset(dueTicks, TimeSpan.Zero);
            // The job may have changed since this slot was planned: fire it only if it still has it.
            if (job is null || job.NextSlotAfter(slot.AddTicks(-1)) != slot || job.Spec.Schedule.FireTime(id, slot) != due)
            {
                Plan(id, job, now);
                continue;
            }
            if (Owns is { } owns && !owns(id))
            {
                if (now.UtcTicks - dueTicks < RenewalWait.Ticks && Renewing?.Invoke() == true)
                {
                    // Back where it was (its plan entry is unchanged); every later slot waits behind it.
                    _queue.Enqueue(id, dueTicks);
                    _waitingForRenewal = true;
                    break;
                }
                Plan(id, job, due > now ? due : now);
                continue;
            }
            try
            {
                Fire(job, slot, now, inline: fired < InlineStartsPerTick);
                fired++;
                if (now.UtcTicks - dueTicks >= LateWarn.Ticks)
                {
                    late++;
                    lateTicksMax = Math.Max(lateTicksMax, now.UtcTicks - dueTicks);
                }
            }
            catch (ChangeLogUnavailableException e)
            {
                if (_unwrittenLines.Allows(_log, LogLevel.Error))
                    _log.LogError("Job {JobId}: slot {Slot} not fired, the journal is unavailable: {Error}", id, slot, e.Message);
            }
            Plan(id, _table.Get(id)?.Job, due > now ? due : now);
        }
        if (late > 0 && _lateLines.Allows(_log, LogLevel.Warning))
            _log.LogWarning("Slots fired late: {Count}, the latest {LateMs} ms after its time. Ksana or the machine could not keep up; " +
                "a slot that came due meanwhile was passed over, not made up (see ksana_run_lateness_seconds)",
                late, lateTicksMax / TimeSpan.TicksPerMillisecond);
        while (_inbox.TryDequeue(out var changed))
            Plan(changed, _table.Get(changed)?.Job, _time.GetUtcNow());
        return fired;
    }

    void Plan(Guid id, Job? job, DateTimeOffset after)
    {
        if (job?.NextAfter(after) is not { } next)
        {
            _planned.Remove(id);
            if (job is not null) CompleteIfEnded(job);
            return;
        }
        var entry = (next.Slot.UtcTicks, next.FireAt.UtcTicks);
        // One lookup: every fired slot plans its job's next one here.
        ref var planned = ref CollectionsMarshal.GetValueRefOrAddDefault(_planned, id, out var had);
        if (had && planned == entry) return;
        planned = entry;
        _queue.Enqueue(id, next.FireAt.UtcTicks);
    }

    /// <summary>
    /// A repeating job whose end_at left it no slot is completed (SPEC §2), once and durably, so
    /// its state does not depend on a clock. While its last run is in flight it still shows as
    /// scheduled (<see cref="JobEntry.State"/>). A change to the schedule re-arms it.
    /// </summary>
    void CompleteIfEnded(Job job)
    {
        if (job is not { Spec.Enabled: true, Once: OnceOutcome.Pending, Spec.Schedule: { FiresOnce: false, Options.EndAt: not null } }) return;
        if (Owns is { } owns && !owns(job.Id)) return;
        try
        {
            _ = _table.Update(job.Id, j => j.Version == job.Version ? j with { Once = OnceOutcome.Fired } : null);
        }
        catch (ChangeLogUnavailableException e)
        {
            _log.LogError("Job {JobId}: not marked completed, the journal is unavailable: {Error}", job.Id, e.Message);
        }
    }

    void Fire(Job job, DateTimeOffset slot, DateTimeOffset now, bool inline)
    {
        if (job.Spec.Schedule.FiresOnce)
            _ = _table.Update(job.Id, j => j.Once == OnceOutcome.Pending ? j with { Once = OnceOutcome.Fired } : null);
        if (!_runner.StartScheduled(job, slot, inline) && !_runner.Draining)
            _runner.Skip(job, slot, now);
    }

    /// <summary>SIGTERM: the loop stops, then the runner drains (see <see cref="Runner.DrainAsync"/>).</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await _runner.DrainAsync(cancellationToken);
    }
}
