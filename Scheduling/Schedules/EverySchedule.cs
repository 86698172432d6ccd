using Ksana.Wire;

namespace Ksana.Scheduling.Schedules;

/// <summary>
/// A fixed grid, <c>origin + k·every</c>, so runs never drift (SPEC §2). The origin is the schedule's
/// <c>start_at</c> when given (then k ≥ 0), else the time the schedule was set (then k ≥ 1).
/// </summary>
public sealed record EverySchedule(Duration Every, ScheduleOptions Options) : Schedule(Options)
{
    public static readonly Duration EveryMin = Duration.FromSeconds(1);
    public static readonly Duration EveryMax = Duration.FromSeconds(366L * 24 * 3600);

    public override string Kind => "every";

    protected override DateTimeOffset? KindSlotAfter(DateTimeOffset t, DateTimeOffset origin)
    {
        if (Options.StartAt is { } start) return GridSlotAfter(start, Every, t);
        // Without start_at the first slot is one period after the origin, even when asked about an
        // earlier instant than the origin itself.
        return GridSlotAfter(origin, Every, t < origin ? origin : t);
    }

    /// <summary>The least <c>origin + k·every</c> (k ≥ 0) that is &gt; <paramref name="t"/>, to the nanosecond.</summary>
    public static DateTimeOffset GridSlotAfter(DateTimeOffset origin, Duration every, DateTimeOffset t)
    {
        if (every.Nanoseconds <= 0) throw new ArgumentOutOfRangeException(nameof(every));
        if (origin > t) return origin;
        // In nanoseconds, with 128-bit products: an "every" that is not a whole number of ticks
        // (1.9999999999s) must not drift over a long-lived grid.
        var elapsedNs = (Int128)(t.UtcTicks - origin.UtcTicks) * 100;
        var k = elapsedNs / every.Nanoseconds + 1;
        var offsetTicks = (long)(k * every.Nanoseconds / 100);
        return origin.AddTicks(offsetTicks);
    }
}
