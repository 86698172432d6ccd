using System.Collections.Concurrent;
using System.Numerics;

namespace Ksana.Scheduling.Cron;

/// <summary>
/// A parsed cron expression (SPEC §7): 5 fields, or 6 with seconds first, or a macro. Immutable,
/// so one instance serves every job with the same text.
/// </summary>
public sealed class CronExpression
{
    const int SharedMax = 10_000;
    // Sharing the parse of identical text keeps start-up with many jobs cheap; the cap keeps a
    // client sending distinct expressions from growing the table without bound.
    static readonly ConcurrentDictionary<string, CronExpression> Shared = new(StringComparer.Ordinal);
    // Its size, counted here: the dictionary's own Count takes every one of its locks, and was 4 %
    // of a start-up with 100,000 cron jobs of 10,000 expressions (a call per expression not shared).
    static int _sharedCount;

    /// <summary>The expression as given; it is stored and shown unchanged.</summary>
    public string Text { get; }

    // Bit v set: value v matches. Seconds and minutes use bits 0-59, hours 0-23, months 1-12.
    readonly ulong _seconds, _minutes, _hours, _months;
    readonly CronDays _days;

    /// <summary>
    /// The second, minute or hour field holds *, - or /. Such an expression fires in both passes
    /// of a repeated hour when clocks go back; one of single values and lists fires only in the
    /// first (SPEC §7, the rules of Cronos).
    /// </summary>
    internal bool IsInterval { get; }

    internal CronExpression(string text, ulong seconds, ulong minutes, ulong hours, ulong months, CronDays days, bool isInterval)
    {
        Text = text;
        (_seconds, _minutes, _hours, _months, _days, IsInterval) = (seconds, minutes, hours, months, days, isInterval);
    }

    /// <summary>
    /// Parses <paramref name="text"/>. On failure <paramref name="error"/> says which field, at
    /// which character, and what was expected there; an expression that can never fire
    /// ("0 0 30 2 *") is an error too.
    /// </summary>
    public static bool TryParse(string? text, out CronExpression? expr, out string? error)
    {
        error = null;
        if (text is not null && Shared.TryGetValue(text, out expr)) return true;
        expr = CronParser.Parse(text, out error);
        if (expr is null) return false;
        if (Volatile.Read(ref _sharedCount) >= SharedMax) return true;
        if (Shared.TryAdd(expr.Text, expr)) Interlocked.Increment(ref _sharedCount);
        else if (Shared.TryGetValue(expr.Text, out var first)) expr = first;
        return true;
    }

    /// <summary>
    /// The first fire time strictly after <paramref name="t"/>, matching the fields against the
    /// wall clock of <paramref name="zone"/>; in UTC, whole seconds. Null only when nothing
    /// matches within a century, which a parsed expression reaches only near the year 9999.
    /// <remarks>Daylight saving time is handled by <see cref="CronDaylightSaving"/>.</remarks>
    public DateTimeOffset? NextAfter(DateTimeOffset t, TimeZoneInfo zone) => CronDaylightSaving.NextAfter(this, t, zone);

    /// <summary>Shorthand for <see cref="NextAfter(DateTimeOffset, TimeZoneInfo)"/> in UTC.</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset t) => NextAfter(t, TimeZoneInfo.Utc);

    /// <summary>
    /// The first matching wall-clock time at or after <paramref name="from"/> (a wall time,
    /// whole seconds), not looking past <paramref name="yearLast"/>. Each field jumps to its next
    /// set bit, so the search visits at most one step per field change, not every second.
    /// </summary>
    internal DateTime? NextWallTime(DateTime from, int yearLast)
    {
        int month = from.Month, day = from.Day, hour = from.Hour, minute = from.Minute, second = from.Second;
        for (int year = from.Year; year <= yearLast; year++, month = 1, day = 1, hour = minute = second = 0)
        {
            for (; month <= 12; month++, day = 1, hour = minute = second = 0)
            {
                if ((_months >> month & 1) == 0) continue;
                uint days = _days.InMonth(year, month);
                for (; day <= 31; day++, hour = minute = second = 0)
                {
                    int nextDay = NextBit(days, day);
                    if (nextDay < 0) break;
                    if (nextDay != day) (day, hour, minute, second) = (nextDay, 0, 0, 0);
                    for (; hour < 24; hour++, minute = second = 0)
                    {
                        int nextHour = NextBit(_hours, hour);
                        if (nextHour < 0) break;
                        if (nextHour != hour) (hour, minute, second) = (nextHour, 0, 0);
                        for (; minute < 60; minute++, second = 0)
                        {
                            int nextMinute = NextBit(_minutes, minute);
                            if (nextMinute < 0) break;
                            if (nextMinute != minute) (minute, second) = (nextMinute, 0);
                            int nextSecond = NextBit(_seconds, second);
                            if (nextSecond >= 0) return new DateTime(year, month, day, hour, minute, nextSecond, DateTimeKind.Unspecified);
                        }
                    }
                }
            }
        }
        return null;
    }

    static int NextBit(ulong mask, int from)
    {
        ulong rest = from < 64 ? mask >> from : 0;
        return rest == 0 ? -1 : from + BitOperations.TrailingZeroCount(rest);
    }

    public override string ToString() => Text;
}
