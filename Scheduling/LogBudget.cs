namespace Ksana.Scheduling;

/// <summary>
/// Bounds a log line that can come once per slot or per run: at most <see cref="Burst"/> such lines
/// in each <see cref="Window"/>. The lines held back are counted, and the next line let through is
/// preceded by one that says how many (as Linux's printk rate limit does). Without it a dead callee
/// behind 10 000 jobs firing every second writes 10 000 lines a second, and on an edge box the log
/// fills the disk that the journal needs. What each run did is kept in the run itself (SPEC §5).
/// </summary>
public sealed class LogBudget(TimeProvider time, string what, int burst = 10, TimeSpan? window = null)
{
    public int Burst { get; } = burst;
    public TimeSpan Window { get; } = window ?? TimeSpan.FromSeconds(10);

    readonly Lock _lock = new();
    long _windowEnd = long.MinValue;
    int _used;
    long _held;

    /// <summary>
    /// Whether a line at <paramref name="level"/> may be written now. When lines were held back
    /// since the last one let through, says so first, at the same level.
    /// </summary>
    public bool Allows(ILogger log, LogLevel level)
    {
        if (!log.IsEnabled(level)) return false;
        long held;
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (now >= _windowEnd)
            {
                _windowEnd = now + (long)(Window.TotalSeconds * time.TimestampFrequency);
                _used = 0;
            }
            if (_used == Burst)
            {
                _held++;
                return false;
            }
            _used++;
            held = _held;
            _held = 0;
        }
        if (held > 0)
            log.Log(level, "{Held} more {What} were not logged (at most {Burst} such lines every {Seconds} s)", held, what, Burst, Window.TotalSeconds);
        return true;
    }
}
