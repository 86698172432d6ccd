namespace Ksana.Wire;

/// <summary>
/// A Go duration: a whole number of nanoseconds, kept exactly as parsed. TimeSpan counts 100 ns
/// ticks, so "1.9999999999s" (1 999 999 999 ns) would come back rounded; this does not.
/// </summary>
public readonly record struct Duration(long Nanoseconds) : IComparable<Duration>
{
    public static readonly Duration Zero = default;

    public static Duration FromTimeSpan(TimeSpan t) => new(GoDuration.FromTimeSpan(t));

    public static Duration FromSeconds(long seconds) => new(seconds * 1_000_000_000L);

    public static Duration FromMilliseconds(long milliseconds) => new(milliseconds * 1_000_000L);

    /// <summary>The nearest TimeSpan at or below this duration (for timers, which count ticks).</summary>
    public TimeSpan ToTimeSpan() => TimeSpan.FromTicks(Nanoseconds / 100);

    public static bool TryParse(ReadOnlySpan<char> text, out Duration duration, out string error)
    {
        var ok = GoDuration.TryParse(text, out var ns, out error);
        duration = new Duration(ns);
        return ok;
    }

    /// <summary>Go's canonical <c>String()</c> form: <c>1m30s</c>, <c>1.999999999s</c>.</summary>
    public override string ToString() => GoDuration.Format(Nanoseconds);

    public int CompareTo(Duration other) => Nanoseconds.CompareTo(other.Nanoseconds);

    public static bool operator <(Duration a, Duration b) => a.Nanoseconds < b.Nanoseconds;
    public static bool operator >(Duration a, Duration b) => a.Nanoseconds > b.Nanoseconds;
    public static bool operator <=(Duration a, Duration b) => a.Nanoseconds <= b.Nanoseconds;
    public static bool operator >=(Duration a, Duration b) => a.Nanoseconds >= b.Nanoseconds;
}
