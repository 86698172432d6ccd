using Ksana.Wire;
using Ksana.Scheduling;

namespace Ksana.Operations;

/// <summary>
/// Finished runs per minute, by status, over the last hour: the status page's chart (SPEC §11).
/// A ring of 60 one-minute buckets indexed by minute since the epoch modulo 60; a bucket still
/// holding an older minute is cleared when its slot comes round again. One short lock guards the
/// ring: a record is a few array writes, far cheaper than the run it counts.
/// </summary>
public sealed class RunsPerMinute(TimeProvider time)
{
    public const int Minutes = 60;
    const int Statuses = 4;
    const long Empty = long.MinValue;

    readonly Lock _gate = new();
    readonly long[] _minute = InitialMinutes();
    readonly long[] _counts = new long[Minutes * Statuses];

    static long[] InitialMinutes()
    {
        var minutes = new long[Minutes];
        Array.Fill(minutes, Empty);
        return minutes;
    }

    /// <summary>
    /// Counts one run that reached a final status at <paramref name="finishedAt"/>. Non-final statuses
    /// and runs that finished more than an hour ago are ignored; a time ahead of the clock counts as now.
    /// </summary>
    public void Record(RunStatus status, DateTimeOffset finishedAt)
    {
        var label = KsanaMetrics.FinalLabel(status);
        if (label < 0) return;
        var now = MinuteOf(time.GetUtcNow());
        var minute = Math.Min(MinuteOf(finishedAt), now);
        if (minute <= now - Minutes) return;
        var slot = Slot(minute);
        lock (_gate)
        {
            if (_minute[slot] != minute)
            {
                // The slot holds a newer minute only if this record is older than the window it already left.
                if (_minute[slot] != Empty && _minute[slot] > minute) return;
                _minute[slot] = minute;
                Array.Clear(_counts, slot * Statuses, Statuses);
            }
            _counts[slot * Statuses + label]++;
        }
    }

    /// <summary>The last 60 minutes, oldest first, the current (partial) minute last; minutes with no run show zeros.</summary>
    public MinuteCounts[] Snapshot()
    {
        var now = MinuteOf(time.GetUtcNow());
        var minutes = new MinuteCounts[Minutes];
        lock (_gate)
        {
            for (var i = 0; i < Minutes; i++)
            {
                var minute = now - (Minutes - 1) + i;
                var slot = Slot(minute);
                var at = DateTimeOffset.FromUnixTimeSeconds(minute * 60);
                minutes[i] = _minute[slot] == minute
                    ? new MinuteCounts(at, _counts[slot * Statuses], _counts[slot * Statuses + 1], _counts[slot * Statuses + 2], _counts[slot * Statuses + 3])
                    : new MinuteCounts(at, 0, 0, 0, 0);
            }
        }
        return minutes;
    }

    static long MinuteOf(DateTimeOffset t) => (long)Math.Floor(t.ToUnixTimeMilliseconds() / 60_000.0);

    static int Slot(long minute) => (int)(((minute % Minutes) + Minutes) % Minutes);
}

/// <summary>Runs that finished within the minute starting at <see cref="At"/>, by status.</summary>
public readonly record struct MinuteCounts(DateTimeOffset At, long Succeeded, long Failed, long Skipped, long Missed);
