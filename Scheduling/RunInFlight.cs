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
    readonly List<Attempt> _attempts = new(1);
    readonly Lock _skips = new();
    Skips _skipped;
    bool _skipsClosed;
    int _inAttempt;

    internal RunInFlight(Runner runner, Job job, Guid runId, RunTrigger trigger, DateTimeOffset scheduledAt,
        Attempt[]? earlier = null, int replays = 0)
    {
        _runner = runner;
        if (earlier is not null) _attempts.AddRange(earlier);
        Replays = replays;
        Job = job;
        Id = runId;
        RunId = Run.Text(runId);
        Trigger = trigger;
        ScheduledAt = scheduledAt;
    }

    public Job Job { get; }
    public Guid Id { get; }

    /// <summary>The run id as sent in X-Ksana-Run-Id and {{run_id}}.</summary>
    public string RunId { get; }
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
    internal CancellationTokenSource Cancellation { get; } = new();
    public StopReason StopReason { get; private set; }
    readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the run has ended and its record is written.</summary>
    public Task Completion => _done.Task;

    internal void Finish() => _done.TrySetResult();

    public bool InAttempt => Volatile.Read(ref _inAttempt) == 1;

    internal void Stop(StopReason reason)
    {
        StopReason = reason;
        Cancellation.Cancel();
    }

    public int AttemptCount
    {
        get { lock (_attempts) return _attempts.Count; }
    }

    public Attempt[] Attempts
    {
        get { lock (_attempts) return [.. _attempts]; }
    }

    internal void BeginAttempt(DateTimeOffset startedAt)
    {
        if (TriggeredAt == default) TriggeredAt = startedAt;
        Volatile.Write(ref _inAttempt, 1);
    }

    internal void EndAttempt(Attempt attempt)
    {
        lock (_attempts) _attempts.Add(attempt);
        Volatile.Write(ref _inAttempt, 0);
    }

    /// <summary>The slots of the same job skipped while this run was in flight, kept as one record.</summary>
    public readonly record struct Skips(Guid RecordId, int Count, DateTimeOffset First, DateTimeOffset Last);

    /// <summary>
    /// Counts a slot skipped behind this run. Returns false once the run has closed its account (it
    /// is ending), so the caller records the skip on its own; <paramref name="first"/> says whether
    /// this skip opened the series and its record must be written now.
    /// </summary>
    internal bool NoteSkipped(DateTimeOffset slot, out Skips skips, out bool first)
    {
        lock (_skips)
        {
            first = _skipped.Count == 0;
            skips = _skipsClosed ? default
                : _skipped = new Skips(first ? Run.NewId() : _skipped.RecordId, _skipped.Count + 1, first ? slot : _skipped.First, slot);
            return !_skipsClosed;
        }
    }

    /// <summary>Ends the series: what was skipped behind this run, for its final record.</summary>
    internal Skips CloseSkips()
    {
        lock (_skips)
        {
            _skipsClosed = true;
            return _skipped;
        }
    }

    void IThreadPoolWorkItem.Execute() => _ = _runner.RunAsync(this);
}
