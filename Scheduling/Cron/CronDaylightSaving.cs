namespace Ksana.Scheduling.Cron;

/// <summary>
/// Maps the wall-clock matches of a cron expression to instants, with the daylight-saving rules
/// of SPEC §7 (those of Cronos, close to Vixie cron's):
/// <list type="bullet">
/// <item>clocks go forward: matching wall times in the gap fire once, together, at the first
/// instant after the gap (<c>30 2 * * *</c> in a 02:00→03:00 gap fires at 03:00);</item>
/// <item>clocks go back: every match fires in the first pass of the repeated hour; in the second
/// pass only an interval expression (*, - or / in second, minute or hour) fires again.</item>
/// </list>
/// </summary>
/// <remarks>
/// The zone is walked as spans of constant offset (<see cref="ZoneOffsets"/>). Within a span the
/// wall clock is UTC plus a constant, so the first wall-clock match in the span's range is the
/// answer. Entering a span after a jump forward, the skipped wall times are searched first and
/// any match fires at the span's first second. Entering one after a jump back, its first wall
/// times repeat those of the span before: a non-interval expression searches only past them.
/// All times are whole seconds since 0001-01-01, UTC or wall.
/// </remarks>
static class CronDaylightSaving
{
    const int SearchYears = 100;
    const int SpansMax = (SearchYears + 2) * 8;
    const long TicksPerSecond = TimeSpan.TicksPerSecond;
    // Leave a year of room below DateTime.MaxValue for offsets and the survey of a year's end.
    static readonly long SecondLast = new DateTime(9998, 1, 1).Ticks / TicksPerSecond;

    public static DateTimeOffset? NextAfter(CronExpression cron, DateTimeOffset t, TimeZoneInfo zone)
    {
        // Fire times are whole seconds strictly after t, so the first candidate is the next whole second.
        long from = t.UtcTicks / TicksPerSecond + 1;
        if (from >= SecondLast) return null;
        int yearLast = Math.Min(new DateTime(from * TicksPerSecond).Year + SearchYears, 9997);

        if (ReferenceEquals(zone, TimeZoneInfo.Utc))
            return Instant(cron.NextWallTime(Wall(from), yearLast), 0);

        var zoneOffsets = ZoneOffsets.For(zone);
        var span = zoneOffsets.At(from);
        long repeatedUntil = long.MinValue;
        if (!cron.IsInterval)
        {
            // Starting inside a second pass: its matches fired in the first. A new-year cut may
            // sit between the jump back and 'from', so look one span further back then.
            var jump = span.OffsetBefore == span.Offset && ZoneOffsets.IsYearStart(span.Start) ? zoneOffsets.At(span.Start - 1) : span;
            if (jump.OffsetBefore > jump.Offset) repeatedUntil = jump.Start + jump.OffsetBefore;
        }

        for (int hop = 0; hop < SpansMax; hop++)
        {
            long wallFrom = from + span.Offset;
            if (from == span.Start && span.OffsetBefore < span.Offset &&
                cron.NextWallTime(Wall(span.Start + span.OffsetBefore), yearLast) is { } skipped &&
                Seconds(skipped) < wallFrom)
                return Instant(span.Start);
            if (from == span.Start && span.OffsetBefore > span.Offset && !cron.IsInterval)
                repeatedUntil = span.Start + span.OffsetBefore;

            if (cron.NextWallTime(Wall(Math.Max(wallFrom, repeatedUntil)), yearLast) is not { } match) return null;
            long wall = Seconds(match);
            if (wall < span.End + span.Offset) return Instant(wall - span.Offset);
            if (span.End >= SecondLast) return null;
            from = span.End;
            span = zoneOffsets.At(from);
        }
        return null;
    }

    static DateTime Wall(long second) => new(second * TicksPerSecond, DateTimeKind.Unspecified);

    static long Seconds(DateTime wall) => wall.Ticks / TicksPerSecond;

    static DateTimeOffset Instant(long utcSecond) => new(utcSecond * TicksPerSecond, TimeSpan.Zero);

    static DateTimeOffset? Instant(DateTime? wall, int offsetSeconds) =>
        wall is { } w ? Instant(Seconds(w) - offsetSeconds) : null;
}
