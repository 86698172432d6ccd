namespace Ksana.Scheduling;

/// <summary>
/// Pure schedule maths: no clock, no state. Every answer is a function of the job and a given time,
/// so it is tested with tables of literal times.
/// </summary>
public static class ScheduleMath
{
    /// <summary>
    /// The first slot of <paramref name="job"/> strictly after <paramref name="after"/>, or null when
    /// the job will not fire on its schedule (paused, a once job already fired or missed).
    /// </summary>
    public static DateTimeOffset? NextAfter(Job job, DateTimeOffset after)
    {
        if (!job.Spec.Enabled) return null;
        var schedule = job.Spec.Schedule;
        if (schedule.Kind == ScheduleKind.Once)
            return job.Once == OnceOutcome.Pending ? schedule.RunAt : null;
        // Without start_at the origin is when the schedule was set, and the first slot is one period
        // later (SPEC §2), even when asked about an earlier instant than the origin itself.
        if (schedule.StartAt is null && after < job.GridOrigin) after = job.GridOrigin;
        return GridSlotAfter(job.GridOrigin, schedule.Every, after);
    }

    /// <summary>The least <c>origin + k·every</c> (k ≥ 1 when origin is not in the future) that is &gt; t.</summary>
    public static DateTimeOffset GridSlotAfter(DateTimeOffset origin, TimeSpan every, DateTimeOffset t)
    {
        if (every <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(every));
        if (origin > t) return origin;
        var elapsed = t.UtcTicks - origin.UtcTicks;
        var k = elapsed / every.Ticks + 1;
        return origin.AddTicks(k * every.Ticks);
    }
}
