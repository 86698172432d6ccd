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
/// The search runs on wall-clock time, which is monotonic except at a backward transition, so
/// the one place that needs care is a start instant inside a repeated hour: there the first pass
/// is searched up to its end, then (for interval expressions) the second pass, then the search
/// carries on after the overlap. The zone's own answers (IsAmbiguousTime, IsInvalidTime,
/// GetAmbiguousTimeOffsets) decide which case applies; the exact transition instant, which
/// TimeZoneInfo does not expose, is found by bisection between instants whose offsets we know.
/// </remarks>
static class CronDaylightSaving
{
    const int SearchYears = 100;

    public static DateTimeOffset? NextAfter(CronExpression cron, DateTimeOffset t, TimeZoneInfo zone)
    {
        // Fire times are whole seconds strictly after t, so the first candidate is the next whole second.
        long ticks = t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerSecond + TimeSpan.TicksPerSecond;
        if (ticks > DateTime.MaxValue.Ticks - TimeSpan.TicksPerDay) return null;
        var from = new DateTime(ticks, DateTimeKind.Utc);
        int yearLast = Math.Min(from.Year + SearchYears, DateTime.MaxValue.Year - 1);

        if (ReferenceEquals(zone, TimeZoneInfo.Utc)) return Instant(cron.NextWallTime(Wall(from, TimeSpan.Zero), yearLast), TimeSpan.Zero);

        TimeSpan offset = zone.GetUtcOffset(from);

        DateTime wall = Wall(from, offset);
        // If the clock jumped forward exactly at 'from', the gap's matches fire now: searching
        // from the wall time after the jump would pass over them.
        TimeSpan offsetBefore = zone.GetUtcOffset(from.AddSeconds(-1));
        if (offsetBefore < offset && cron.NextWallTime(Wall(from, offsetBefore), yearLast) < wall)
            return new DateTimeOffset(from.Ticks, TimeSpan.Zero);

        if (zone.IsAmbiguousTime(wall))
        {
            var (early, late) = AmbiguousOffsets(zone, wall);
            var shift = early - late;
            // The transition instant: the first pass ends and the second begins.
            DateTime back = offset == early
                ? FirstWithOffset(zone, from, from + shift, late)
                : FirstWithOffset(zone, from - shift - TimeSpan.FromSeconds(1), from, late);
            DateTime overlapEnd = Wall(back, early);
            if (offset == early)
            {
                var first = cron.NextWallTime(wall, yearLast);
                if (first < overlapEnd) return Instant(first, early);
                wall = Wall(back, late);
            }
            if (cron.IsInterval)
            {
                var second = cron.NextWallTime(wall, yearLast);
                if (second < overlapEnd) return Instant(second, late);
            }
            wall = overlapEnd;
        }

        if (cron.NextWallTime(wall, yearLast) is not { } match) return null;
        if (zone.IsInvalidTime(match)) return GapEnd(zone, match);
        if (zone.IsAmbiguousTime(match)) return Instant(match, AmbiguousOffsets(zone, match).Early);
        return Instant(match, zone.GetUtcOffset(match));
    }

    static DateTime Wall(DateTime utc, TimeSpan offset) => new(utc.Ticks + offset.Ticks, DateTimeKind.Unspecified);

    static DateTimeOffset? Instant(DateTime? wall, TimeSpan offset) =>
        wall is { } w ? new DateTimeOffset(w.Ticks - offset.Ticks, TimeSpan.Zero) : null;

    // Both offsets of a repeated wall time; the first pass has the larger one (the clock went back).
    static (TimeSpan Early, TimeSpan Late) AmbiguousOffsets(TimeZoneInfo zone, DateTime wall)
    {
        var offsets = zone.GetAmbiguousTimeOffsets(wall);
        return (offsets.Max(), offsets.Min());
    }

    /// <summary>The first instant after a forward transition whose gap holds <paramref name="wall"/>.</summary>
    static DateTimeOffset GapEnd(TimeZoneInfo zone, DateTime wall)
    {
        // A day either side of the wall time (as if it were UTC) is outside the gap, whatever the
        // zone's offset; transitions are never that close together in the tz data of our era.
        var asUtc = new DateTime(wall.Ticks, DateTimeKind.Utc);
        TimeSpan before = zone.GetUtcOffset(asUtc.AddDays(-1)), after = zone.GetUtcOffset(asUtc.AddDays(1));
        // The wall time is in [T + before, T + after), so the transition T is in (wall - after, wall - before].
        var transition = FirstWithOffset(zone, asUtc - after, asUtc - before, after);
        return new DateTimeOffset(transition.Ticks, TimeSpan.Zero);
    }

    /// <summary>
    /// The first whole second in (<paramref name="low"/>, <paramref name="high"/>] at which the
    /// zone's offset is <paramref name="offset"/>, given that it is not at low and is at high.
    /// Transitions in the tz data fall on whole seconds, so bisection on seconds is exact.
    /// </summary>
    static DateTime FirstWithOffset(TimeZoneInfo zone, DateTime low, DateTime high, TimeSpan offset)
    {
        long lo = low.Ticks / TimeSpan.TicksPerSecond, hi = high.Ticks / TimeSpan.TicksPerSecond;
        while (hi - lo > 1)
        {
            long mid = lo + (hi - lo) / 2;
            if (zone.GetUtcOffset(new DateTime(mid * TimeSpan.TicksPerSecond, DateTimeKind.Utc)) == offset) hi = mid;
            else lo = mid;
        }
        return new DateTime(hi * TimeSpan.TicksPerSecond, DateTimeKind.Utc);
    }
}
