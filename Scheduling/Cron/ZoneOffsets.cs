using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Ksana.Scheduling.Cron;

/// <summary>
/// A time zone as a list of spans of constant UTC offset, for the cron search. TimeZoneInfo
/// answers "what offset at this instant" in about 2 µs, and knows transitions only implicitly;
/// the search needs the transitions themselves (where a gap or a repeated hour begins) and must
/// stay at a few µs per fire time with 100 000 jobs. So each UTC year of a zone is surveyed
/// once, on first use, and kept: its transitions as sorted arrays, found by sampling the
/// zone's offset every few hours and bisecting to the exact second.
/// </summary>
/// <remarks>
/// Sampling assumes two transitions are never closer than <see cref="SampleSeconds"/> with the
/// offset back where it was, which holds for every zone's rules since the 1970s (the closest,
/// Morocco's Ramadan pauses, are weeks apart); older history could hide such a blip. A survey
/// costs about 750 offset look-ups, ~1 ms, once per zone and year. Spans are also cut at each UTC new year; such cuts have the same offset on
/// both sides, so they are neither gaps nor repeated hours.
/// </remarks>
sealed class ZoneOffsets
{
    const long SampleSeconds = 12 * 3600;
    const long TicksPerSecond = TimeSpan.TicksPerSecond;

    static readonly ConditionalWeakTable<TimeZoneInfo, ZoneOffsets> ByZone = new();

    readonly TimeZoneInfo _zone;
    readonly ConcurrentDictionary<int, YearSpans> _years = new();

    ZoneOffsets(TimeZoneInfo zone) => _zone = zone;

    public static ZoneOffsets For(TimeZoneInfo zone) => ByZone.GetValue(zone, static z => new ZoneOffsets(z));

    /// <summary>
    /// A span [Start, End) of UTC seconds (since 0001-01-01) with one offset, and the offset in
    /// force just before it: larger means the clock went back at Start, smaller that it jumped.
    /// </summary>
    public readonly record struct Span(long Start, long End, int Offset, int OffsetBefore);

    // Starts[0] is the year's first second; Offsets[k] holds from Starts[k] to the next start.
    sealed record YearSpans(long[] Starts, int[] Offsets, int OffsetBefore);

    /// <summary>The span holding the UTC second <paramref name="second"/>.</summary>
    public Span At(long second)
    {
        int year = new DateTime(second * TicksPerSecond, DateTimeKind.Utc).Year;
        var spans = _years.GetOrAdd(year, Survey);
        int k = Array.BinarySearch(spans.Starts, second);
        if (k < 0) k = ~k - 1;
        long end = k + 1 < spans.Starts.Length ? spans.Starts[k + 1] : YearStart(year + 1);
        return new Span(spans.Starts[k], end, spans.Offsets[k], k > 0 ? spans.Offsets[k - 1] : spans.OffsetBefore);
    }

    public static bool IsYearStart(long second) => new DateTime(second * TicksPerSecond, DateTimeKind.Utc) is { Month: 1, Day: 1, TimeOfDay.Ticks: 0 };

    YearSpans Survey(int year)
    {
        long start = YearStart(year), end = YearStart(year + 1);
        var starts = new List<long> { start };
        var offsets = new List<int> { OffsetAt(start) };
        long low = start;
        int lowOffset = offsets[0];
        while (low < end - 1)
        {
            long probe = Math.Min(low + SampleSeconds, end - 1);
            if (OffsetAt(probe) == lowOffset)
            {
                low = probe;
                continue;
            }
            // The first second in (low, probe] with another offset: that is a transition.
            long high = probe;
            while (high - low > 1)
            {
                long middle = low + (high - low) / 2;
                if (OffsetAt(middle) == lowOffset) low = middle;
                else high = middle;
            }
            lowOffset = OffsetAt(high);
            starts.Add(high);
            offsets.Add(lowOffset);
            low = high;
        }
        return new YearSpans([.. starts], [.. offsets], year > 1 ? OffsetAt(start - 1) : offsets[0]);
    }

    int OffsetAt(long second) => (int)(_zone.GetUtcOffset(new DateTime(second * TicksPerSecond, DateTimeKind.Utc)).Ticks / TicksPerSecond);

    static long YearStart(int year) => new DateTime(year, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks / TicksPerSecond;
}
