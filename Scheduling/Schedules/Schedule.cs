using Ksana.Wire;

namespace Ksana.Scheduling.Schedules;

/// <summary>
/// The options every kind may carry (SPEC §2), each checked by the kind's codec against what that
/// kind allows. <see cref="StartAt"/> and <see cref="EndAt"/> bound the slots; <see cref="Jitter"/>
/// moves each slot's fire time by a stable offset; <see cref="CatchUp"/> says how old a missed slot
/// may be and still be made up after a restart or on resume.
/// </summary>
public sealed record ScheduleOptions(DateTimeOffset? StartAt, DateTimeOffset? EndAt, Duration Jitter, Duration? CatchUp)
{
    public static readonly ScheduleOptions None = new(null, null, Duration.Zero, null);
}

/// <summary>
/// When a job fires: a closed set of kinds (<see cref="EverySchedule"/>, <see cref="OnceSchedule"/>,
/// <see cref="CronSchedule"/>), each a pure function from an instant to the next slot, like robfig/cron's
/// <c>Schedule.Next(t)</c>. No clock, no state: tested with tables of literal times.
/// </summary>
public abstract record Schedule(ScheduleOptions Options)
{
    /// <summary>The kind's name on the wire: <c>"every"</c>, <c>"once"</c>, <c>"cron"</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>True for a kind with a single slot: the job is completed (or missed) after it.</summary>
    public virtual bool FiresOnce => false;

    /// <summary>The zone the schedule is read in; slots and times in the API stay UTC.</summary>
    public virtual TimeZoneInfo Zone => TimeZoneInfo.Utc;

    /// <summary>
    /// The first slot strictly after <paramref name="t"/>, or null when none is left.
    /// <paramref name="origin"/> is when the schedule was set (the job's grid origin): no slot
    /// comes before it, and an <c>every</c> grid is counted from it.
    /// </summary>
    public DateTimeOffset? SlotAfter(DateTimeOffset t, DateTimeOffset origin)
    {
        if (Options.StartAt is { } start && t < start) t = start.AddTicks(-1);
        var slot = KindSlotAfter(t, origin);
        return slot is { } s && Options.EndAt is { } end && s > end ? null : slot;
    }

    /// <summary>
    /// The latest slot in [<paramref name="notBefore"/>, <paramref name="t"/>], or null: the slot a
    /// <c>catch_up</c> makes up. Kinds only know their next slot (a cron expression has no "previous"),
    /// so this searches for the last instant whose next slot is still at or before t: SlotAfter never
    /// decreases as its argument grows, and about 50 look-ups cover a year of ticks.
    /// </summary>
    public DateTimeOffset? LastSlotAtOrBefore(DateTimeOffset t, DateTimeOffset notBefore, DateTimeOffset origin)
    {
        if (notBefore > t) return null;
        long low = notBefore.UtcTicks - 1, high = t.UtcTicks;
        if (SlotAfter(At(low), origin) is not { } first || first > t) return null;
        // Invariant: SlotAfter(low) <= t, and SlotAfter(high) > t (or none).
        while (high - low > 1)
        {
            var middle = low + (high - low) / 2;
            if (SlotAfter(At(middle), origin) is { } s && s <= t) low = middle;
            else high = middle;
        }
        return SlotAfter(At(low), origin);
    }

    static DateTimeOffset At(long utcTicks) => new(utcTicks, TimeSpan.Zero);

    /// <summary>The kind's own rule, before the window of <see cref="Options"/> is applied.</summary>
    protected abstract DateTimeOffset? KindSlotAfter(DateTimeOffset t, DateTimeOffset origin);

    /// <summary>
    /// When the slot actually fires: the slot plus an offset in [0, jitter) that is a fixed function
    /// of the job and the slot, so it is the same after a restart and on every node.
    /// </summary>
    public DateTimeOffset FireTime(Guid jobId, DateTimeOffset slot)
    {
        var jitterTicks = Options.Jitter.Nanoseconds / 100;
        if (jitterTicks <= 0) return slot;
        Span<byte> key = stackalloc byte[24];
        jobId.TryWriteBytes(key);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(key[16..], slot.UtcTicks);
        var hash = System.IO.Hashing.XxHash3.HashToUInt64(key);
        // Whole milliseconds: fire times are shown and compared to the millisecond.
        var offset = (long)(hash % (ulong)jitterTicks);
        return slot.AddTicks(offset - offset % TimeSpan.TicksPerMillisecond);
    }
}
