namespace Ksana.Scheduling;

/// <summary>
/// Bounds a log line that can come once per slot or per run: at most <see cref="Burst"/> such lines
/// in each <see cref="Window"/>. The lines held back are counted, and one line says how many (as
/// Linux's printk rate limit does): when their window ends, or before the next line let through,
/// whichever comes first. Without it a dead callee behind 10 000 jobs firing every second writes
/// 10 000 lines a second, and on an edge box the log fills the disk that the journal needs. What
/// each run did is kept in the run itself (SPEC §5).
/// </summary>
public sealed class LogBudget(TimeProvider time, string what, int burst = 10, TimeSpan? window = null)
{
    public int Burst { get; } = burst;
    public TimeSpan Window { get; } = window ?? TimeSpan.FromSeconds(10);

    readonly Lock _lock = new();
    long _windowEnd = long.MinValue;
    int _used;
    long _held;
    // Where and at which level the held lines would have gone, for the count said when their window ends.
    ILogger? _heldLog;
    LogLevel _heldLevel;
    ITimer? _timer;

    /// <summary>
    /// Whether a line at <paramref name="level"/> may be written now. When lines were held back
    /// since the last one let through, and their count was not said yet, says so first, at the same level.
    /// </summary>
    public bool Allows(ILogger log, LogLevel level)
    {
        if (!log.IsEnabled(level)) return false;
        var now = time.GetTimestamp();
        bool allowed;
        long held = 0;
        TimeSpan? arm = null;
        lock (_lock)
        {
            if (now >= _windowEnd)
            {
                _windowEnd = now + (long)(Window.TotalSeconds * time.TimestampFrequency);
                _used = 0;
            }
            allowed = _used < Burst;
            if (allowed)
            {
                _used++;
                held = _held;
                _held = 0;
            }
            else if (_held++ == 0)
            {
                // The first line held back since the count was last said arms it for the window's end.
                (_heldLog, _heldLevel) = (log, level);
                arm = TimeSpan.FromSeconds((double)(_windowEnd - now) / time.TimestampFrequency);
            }
        }
        if (arm is { } due) Arm(due);
        if (allowed && held > 0) Say(log, level, held);
        return allowed;
    }

    /// <summary>Arms the count of held lines (outside the lock: a timer due at once may run its callback on this thread).</summary>
    void Arm(TimeSpan due)
    {
        var timer = Volatile.Read(ref _timer);
        if (timer is null)
        {
            timer = time.CreateTimer(static s => ((LogBudget)s!).SayHeld(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (Interlocked.CompareExchange(ref _timer, timer, null) is { } other)
            {
                timer.Dispose();
                timer = other;
            }
        }
        timer.Change(due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The window of the held lines ended: says how many, unless a line let through since did.</summary>
    void SayHeld()
    {
        long held;
        ILogger? log;
        LogLevel level;
        lock (_lock)
        {
            (held, log, level) = (_held, _heldLog, _heldLevel);
            _held = 0;
            _heldLog = null;
        }
        if (held == 0 || log is null) return;
        try
        {
            Say(log, level, held);
        }
        catch (ObjectDisposedException)
        {
            // The host stopped (and its logging with it) before the window ended.
        }
    }

    void Say(ILogger log, LogLevel level, long held) =>
        log.Log(level, "{Held} more {What} were not logged (at most {Burst} such lines every {Seconds} s)", held, what, Burst, Window.TotalSeconds);
}
