namespace Ksana.Tests.EndToEnd;

/// <summary>Where callbacks fall on a job's fixed grid (<c>origin + k·every</c>).</summary>
public static class Grid
{
    /// <summary>Lateness allowed between a slot and the callee seeing the request, on a busy 2-core machine.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(250);

    /// <summary>A request may not arrive before its slot; a few ms allow for clock read granularity.</summary>
    public static readonly TimeSpan Early = TimeSpan.FromMilliseconds(5);

    public static long SlotIndex(DateTimeOffset origin, TimeSpan every, DateTimeOffset arrival) =>
        (long)Math.Round((arrival - origin) / every);

    public static DateTimeOffset Slot(DateTimeOffset origin, TimeSpan every, long k) => origin + k * every;

    /// <summary>Lines describing each arrival against the grid, for failure messages.</summary>
    public static string Describe(IEnumerable<Recorded> requests, DateTimeOffset origin, TimeSpan every) =>
        string.Join("\n", requests.Select(r =>
        {
            var k = SlotIndex(origin, every, r.ArrivedAt);
            var late = (r.ArrivedAt - Slot(origin, every, k)).TotalMilliseconds;
            return $"arrived {Rfc3339.Format(r.ArrivedAt)}  slot k={k}  late {late:F1} ms  run {r.RunId}";
        }));
}
