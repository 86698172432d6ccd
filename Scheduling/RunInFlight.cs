using System.Runtime.CompilerServices;
using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>Why a run was stopped from outside.</summary>
public enum StopReason { None, JobDeleted, ShuttingDown }

/// <summary>
/// One run in flight: what it calls, its attempts so far, and the handle to stop it. Only the
/// <see cref="Runner"/> makes and changes it. It is also the thread-pool work item that starts the
/// run, so dispatching a due slot allocates nothing else.
/// </summary>
public sealed class RunInFlight : IThreadPoolWorkItem
{
    readonly Runner _runner;
    // Replaced whole (never changed in place) by the one flow that runs the attempts, so a reader
    // takes it as it is, without a copy or a lock.
    Attempt[] _attempts;
    // The skips and the completion are guarded by this object's own monitor: a run waiting for a
    // worker under overload lives long enough to be promoted, and a lock object of its own (like
    // its id's text, made when first needed, and its stop source, taken when first needed) would be
    // promoted with it.
    // Made on the first slot skipped behind this run (overload), not carried by every run.
    StrongBox<Skips>? _skipped;
    bool _skipsClosed;
    int _inAttempt;

    internal RunInFlight(Runner runner, Job job, Guid runId, RunTrigger trigger, DateTimeOffset scheduledAt,
        Attempt[]? earlier = null, int replays = 0)
    {
        _runner = runner;
        _attempts = earlier ?? [];
        Replays = replays;
        Job = job;
        Id = runId;
        Trigger = trigger;
        ScheduledAt = scheduledAt;
    }

    public Job Job { get; }
    public Guid Id { get; }

    string? _runId;

    /// <summary>The run id as sent in X-Ksana-Run-Id and {{run_id}}.</summary>
    public string RunId => _runId ??= Run.Text(Id);
    public RunTrigger Trigger { get; }
    public DateTimeOffset ScheduledAt { get; }

    /// <summary>How many times this run has been replayed; a replay keeps its id and earlier attempts.</summary>
    public int Replays { get; }

    /// <summary>When the first attempt started: the run's {{triggered_at}}.</summary>
    public DateTimeOffset TriggeredAt { get; private set; }

    /// <summary>The run's "running" record has been written.</summary>
    internal bool Recorded { get; set; }

    /// <summary>Cluster mode: the run was claimed before it started (run-now and replay claim before they answer).</summary>
    internal bool Claimed { get; set; }

    /// <summary>The claim's key: the slot of a scheduled run, or the run (and replay) itself.</summary>
    public string ClaimSlot => Trigger == RunTrigger.Schedule && Replays == 0
        ? ScheduledAt.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture)
        : $"run:{RunId}:{Replays}";

    /// <summary>The run has had its first worker (or given up waiting): see Runner's room count.</summary>
    internal bool Seated { get; set; }

    /// <summary>Between a failed attempt and the next one: reported to the observer as a retry waiting.</summary>
    internal bool WaitingForRetry { get; set; }
    // Under this monitor: taken from the runner's pool when first needed, given back when the run ends
    // unless it was cancelled (a stop may still be cancelling it).
    CancellationTokenSource? _cancellation;

    /// <summary>Stops the run's attempt in flight, its wait for a worker, and any retry still to come.</summary>
    internal CancellationToken StopToken
    {
        get
        {
            lock (this) return (_cancellation ??= _runner.Stops.Rent()).Token;
        }
    }

    public StopReason StopReason { get; private set; }
    // Made only when someone waits for the run (a drain, a test): most runs end unobserved.
    TaskCompletionSource? _done;
    bool _finished;

    /// <summary>Completes when the run has ended and its record is written.</summary>
    public Task Completion
    {
        get
        {
            lock (this)
            {
                if (_finished) return Task.CompletedTask;
                return (_done ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    internal void Finish()
    {
        TaskCompletionSource? done;
        CancellationTokenSource? unused;
        lock (this)
        {
            _finished = true;
            done = _done;
            // A stop that took the source before this point cancels it after: such a source is never
            // given back, so a stop can only ever reach its own run.
            unused = StopReason == StopReason.None ? _cancellation : null;
            _cancellation = null;
        }
        if (unused is not null) _runner.Stops.Return(unused);
        done?.TrySetResult();
    }

    public bool InAttempt => Volatile.Read(ref _inAttempt) == 1;

    // The first attempt's outcome, sent before the retry pipeline took the run over: its attempt 0.
    // Boxed, and only for a run that retries: most runs never carry one.
    object? _firstOutcome;

    internal void HandOverFirstOutcome(AttemptOutcome outcome) => _firstOutcome = outcome;

    /// <summary>The outcome the retry pipeline's attempt 0 answers with, once; null afterwards.</summary>
    internal AttemptOutcome? TakeFirstOutcome()
    {
        var outcome = _firstOutcome as AttemptOutcome?;
        _firstOutcome = null;
        return outcome;
    }

    /// <summary>Stops the run, unless it has already ended (its source may then be another run's).</summary>
    internal void Stop(StopReason reason)
    {
        CancellationTokenSource source;
        lock (this)
        {
            if (_finished) return;
            StopReason = reason;
            source = _cancellation ??= new CancellationTokenSource();
        }
        // Outside the monitor: cancelling runs the attempt's callbacks, and its continuations, inline.
        source.Cancel();
    }

    public int AttemptCount
    {
        get => Volatile.Read(ref _attempts).Length;
    }

    public Attempt[] Attempts
    {
        get => Volatile.Read(ref _attempts);
    }

    internal void BeginAttempt(DateTimeOffset startedAt)
    {
        if (TriggeredAt == default) TriggeredAt = startedAt;
        Volatile.Write(ref _inAttempt, 1);
    }

    internal void EndAttempt(Attempt attempt)
    {
        Volatile.Write(ref _attempts, [.. _attempts, attempt]);
        Volatile.Write(ref _inAttempt, 0);
    }

    /// <summary>The slots of the same job skipped while this run was in flight, kept as one record.</summary>
    public readonly record struct Skips(Guid RecordId, int Count, DateTimeOffset First, DateTimeOffset Last);

    /// <summary>
    /// Counts a slot skipped behind this run. Returns false once the run has closed its account (it
    /// is ending), so the caller records the skip on its own; <paramref name="first"/> says whether
    /// this skip opened the series and its record must be written now.
    /// </summary>
    internal bool NoteSkipped(DateTimeOffset slot, DateTimeOffset now, out Skips skips, out bool first)
    {
        lock (this)
        {
            var sofar = _skipped?.Value ?? default;
            first = sofar.Count == 0;
            if (_skipsClosed)
            {
                skips = default;
                return false;
            }
            skips = new Skips(first ? Run.NewId(now) : sofar.RecordId, sofar.Count + 1, first ? slot : sofar.First, slot);
            (_skipped ??= new()).Value = skips;
            return true;
        }
    }

    /// <summary>Ends the series: what was skipped behind this run, for its final record.</summary>
    internal Skips CloseSkips()
    {
        lock (this)
        {
            _skipsClosed = true;
            return _skipped?.Value ?? default;
        }
    }

    void IThreadPoolWorkItem.Execute() => _ = _runner.RunAsync(this);
}
