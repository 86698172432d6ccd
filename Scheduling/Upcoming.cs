using Ksana.Scheduling.Schedules;

namespace Ksana.Scheduling;

/// <summary>
/// The next fire times of a job or of a bare schedule (SPEC §4 upcoming and preview), computed the
/// way the scheduler plans them, so what a client is shown is what will happen.
/// </summary>
public static class Upcoming
{
    public const int CountDefault = 10;
    public const int CountMax = 100;

    /// <summary>
    /// The job's next <paramref name="count"/> fire times after <paramref name="now"/>, jitter
    /// included. Each is found from the one before, as the scheduler finds the next slot after firing
    /// one. A paused or finished job will not fire: its list is empty, like its next_run_at.
    /// </summary>
    public static List<DateTimeOffset> Of(Job job, DateTimeOffset now, int count)
    {
        var times = new List<DateTimeOffset>(count);
        var after = now;
        DateTimeOffset? lastSlot = null;
        while (times.Count < count && job.NextAfter(after) is { } next && (lastSlot is null || next.Slot > lastSlot))
        {
            times.Add(next.FireAt);
            (after, lastSlot) = (next.FireAt, next.Slot);
        }
        return times;
    }

    /// <summary>
    /// The first <paramref name="count"/> slots of <paramref name="schedule"/> were it set at
    /// <paramref name="now"/> (the grid origin a create would give it). No job, so no jitter.
    /// </summary>
    public static List<DateTimeOffset> Of(Schedule schedule, DateTimeOffset now, int count)
    {
        var times = new List<DateTimeOffset>(count);
        var after = now;
        while (times.Count < count && schedule.SlotAfter(after, now) is { } slot && slot > after)
        {
            times.Add(slot);
            after = slot;
        }
        return times;
    }
}
