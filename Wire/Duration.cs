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

    public static bool TryParse(ReadOnlySpan<char> text, out Duration duration, out string error) =>
        TryParse(text, out duration, out error, out _);

    /// <summary>As above; <paramref name="tooLarge"/> says the text is a duration, but beyond what one can hold (<see cref="GoDuration.TryParse(ReadOnlySpan{char}, out long, out string, out bool)"/>).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Duration duration, out string error, out bool tooLarge)
    {
        var ok = GoDuration.TryParse(text, out var ns, out error, out tooLarge);
        duration = new Duration(ns);
        return ok;
    }

    /// <summary>
    /// Why <paramref name="text"/> is not a duration from <paramref name="min"/> to <paramref name="max"/>
    /// (null when it is one), in the words the API answers with: a duration beyond what one can hold
    /// is out of the field's range, like any other too large, not malformed.
    /// </summary>
    public static string? Refusal(string text, Duration min, Duration max, out Duration value)
    {
        if (!TryParse(text, out value, out var why, out var tooLarge))
            return tooLarge
                ? $"must be from {min} to {max}, not {GoDuration.Quote(text)}, which is beyond the longest duration there is ({new Duration(long.MaxValue)})"
                : $"{why}: expected a Go duration such as \"300ms\", \"10s\", \"1m30s\", \"2h\"";
        return value < min || value > max ? $"must be from {min} to {max}, not {value}" : null;
    }

    /// <summary>Go's canonical <c>String()</c> form: <c>1m30s</c>, <c>1.999999999s</c>.</summary>
    public override string ToString() => GoDuration.Format(Nanoseconds);

    public int CompareTo(Duration other) => Nanoseconds.CompareTo(other.Nanoseconds);

    public static bool operator <(Duration a, Duration b) => a.Nanoseconds < b.Nanoseconds;
    public static bool operator >(Duration a, Duration b) => a.Nanoseconds > b.Nanoseconds;
    public static bool operator <=(Duration a, Duration b) => a.Nanoseconds <= b.Nanoseconds;
    public static bool operator >=(Duration a, Duration b) => a.Nanoseconds >= b.Nanoseconds;
}
