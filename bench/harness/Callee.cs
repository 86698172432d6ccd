using System.Globalization;

namespace KsanaBench;

/// <summary>
/// The nginx callee that bench/run.sh started: every scheduler under test calls
/// /hook/{job}/{phase_ms}/{period_ms} on it, and it logs "$msec $request_uri" per request.
/// </summary>
sealed class Callee(int port, string logPath, int nginxPid)
{
    public int Port { get; } = port;

    public string HookUrl(int job, int phaseMs, int periodMs) =>
        $"http://127.0.0.1:{Port}/hook/{job}/{phaseMs}/{periodMs}";

    /// <summary>
    /// Moves the access log aside and makes nginx reopen it (SIGUSR1). nginx flushes its log
    /// buffer into the old file before reopening, so once the new file exists and the workers
    /// have had a moment, the moved file holds every request logged before the call.
    /// </summary>
    public string Cut(string dest)
    {
        if (File.Exists(logPath)) File.Move(logPath, dest, overwrite: true);
        else File.WriteAllText(dest, "");
        Native.kill(nginxPid, Native.SIGUSR1);
        var until = DateTime.UtcNow.AddSeconds(3);
        while (!File.Exists(logPath) && DateTime.UtcNow < until) Thread.Sleep(5);
        Thread.Sleep(300); // workers reopen after the master; let them flush
        return dest;
    }
}

/// <summary>What the callee saw of one system during one measured window.</summary>
sealed record Lateness(
    long CallsInWindow, double CallbacksPerSecond, long Matched,
    int P50Ms, int P99Ms, int P999Ms, int MaxMs, int MinMs, double PctWithin50Ms,
    long SlotsExpected, long Lost, long DuplicateSlots, long DuplicateCalls, long Early, long Stray);

/// <summary>
/// Lateness and lost/duplicate accounting from the callee's log alone.
///
/// Each line is "&lt;msec&gt; /hook/&lt;job&gt;/&lt;phase_ms&gt;/&lt;period_ms&gt;", msec being the Unix time
/// of the request in seconds with millisecond resolution. A job's grid is phase + k·period
/// (milliseconds since the epoch). A call arriving at a is first attributed to the latest grid
/// instant at or before a + guard: a scheduler that fires a few milliseconds early is charged a
/// small negative lateness rather than almost a whole period, and a call up to period − guard late
/// still counts against its own slot. (The guard is 100 ms, not period/2: calls 500–900 ms late do
/// happen under aligned load and must not pass for early calls of the next slot.)
///
/// A call more than period − guard late then looks like a call of a later slot, next to an empty
/// slot: a loss and a duplicate that never happened (a scheduler that has fallen behind and
/// catches up does exactly this). So each job's calls, in order of arrival, may each be moved
/// back by up to fifteen slots, and the choice that covers the most distinct slots wins, with as
/// few moves as possible on a tie (a dynamic programme over the calls; slots stay in arrival
/// order). A genuine loss followed by on-time or slightly early calls covers no more slots when
/// calls are moved, so it stays a loss. A call is never moved onto a slot before its job was
/// created, nor onto one whose calls might predate the start of the log; the log starts before
/// the first job is created, so it holds every call.
///
/// The measured window is the set of slots whose nominal time lies in [w0, w1); a slot there with
/// no call is lost, one with more than one call is a duplicate. Callbacks per second count every
/// hook request that arrived within [w0, w1).
/// </summary>
static class LatenessAnalyzer
{
    public const int GuardMs = 100;

    public static Lateness Analyze(string logPath, int[] phaseMs, int periodMs, long w0Ms, long w1Ms, long logStartMs, long[]? createdAfterMs = null)
    {
        int jobs = phaseMs.Length;
        int slotsPerJob = (int)((w1Ms - w0Ms + periodMs - 1) / periodMs);
        var counts = new byte[(long)jobs * slotsPerJob];
        var firstSlot = new long[jobs];
        long expected = 0;
        for (int j = 0; j < jobs; j++)
        {
            firstSlot[j] = FirstSlotAtOrAfter(w0Ms, phaseMs[j], periodMs);
            for (int m = 0; m < slotsPerJob; m++)
                if (firstSlot[j] + (long)m * periodMs < w1Ms) expected++;
        }

        // Every call of one of our jobs, packed as job << 40 | (arrival − base), so that one sort
        // orders them by job and then by arrival.
        long baseMs = Math.Min(logStartMs, w0Ms) - 600_000;
        var calls = new List<long>(capacity: (int)Math.Min(expected * 3 / 2 + 1024, int.MaxValue / 2));
        long inWindow = 0, stray = 0;
        foreach (var line in File.ReadLines(logPath))
        {
            if (!TryParse(line, out long a, out int job, out int phase, out int period))
            {
                if (line.Length > 0) stray++;
                continue;
            }
            if (a >= w0Ms && a < w1Ms) inWindow++;
            if (job < 0 || job >= jobs || period != periodMs || phase != phaseMs[job] || a < baseMs) { stray++; continue; }
            calls.Add(((long)job << 40) | (a - baseMs));
        }
        calls.Sort();

        var late = new List<int>(capacity: calls.Count);
        var arrival = new List<long>();
        var slot = new List<long>();
        int start = 0;
        while (start < calls.Count)
        {
            int job = (int)(calls[start] >> 40);
            int end = start;
            arrival.Clear();
            while (end < calls.Count && (int)(calls[end] >> 40) == job)
                arrival.Add((calls[end++] & ((1L << 40) - 1)) + baseMs);
            start = end;

            int phase = phaseMs[job];
            // No slot before the job existed, nor one whose calls might predate the log.
            long earliestSlotMs = Math.Max(logStartMs + GuardMs, createdAfterMs?[job] ?? long.MinValue);
            Attribute(arrival, phase, periodMs, earliestSlotMs, slot);
            for (int i = 0; i < arrival.Count; i++)
            {
                long nominal = phase + slot[i] * periodMs;
                if (nominal < w0Ms || nominal >= w1Ms) continue;
                late.Add((int)(arrival[i] - nominal));
                long m = (nominal - firstSlot[job]) / periodMs;
                ref byte c = ref counts[(long)job * slotsPerJob + m];
                if (c < 255) c++;
            }
        }

        long lost = 0, dupSlots = 0, dupCalls = 0, early = 0;
        for (int j = 0; j < jobs; j++)
        {
            for (int m = 0; m < slotsPerJob; m++)
            {
                if (firstSlot[j] + (long)m * periodMs >= w1Ms) break;
                byte c = counts[(long)j * slotsPerJob + m];
                if (c == 0) lost++;
                else if (c > 1) { dupSlots++; dupCalls += c - 1; }
            }
        }

        late.Sort();
        int n = late.Count;
        int Pct(double p) => n == 0 ? 0 : late[Math.Clamp((int)Math.Ceiling(p * n) - 1, 0, n - 1)];
        long within = 0;
        foreach (var l in late)
        {
            if (l <= 50) within++;
            if (l < 0) early++;
        }
        double seconds = (w1Ms - w0Ms) / 1000.0;
        return new Lateness(inWindow, inWindow / seconds, n,
            Pct(0.50), Pct(0.99), Pct(0.999), n == 0 ? 0 : late[^1], n == 0 ? 0 : late[0],
            n == 0 ? 0 : 100.0 * within / n, expected, lost, dupSlots, dupCalls, early, stray);
    }

    /// <summary>How many periods back a call may be attributed: lateness up to about 16 s is measured.</summary>
    public const int MaxSlotsBack = 15;

    /// <summary>
    /// Slot index k (nominal = phase + k·period) of each of one job's calls, sorted by arrival:
    /// the nearest slot (guarded) or one of the <see cref="MaxSlotsBack"/> before it, chosen to
    /// cover the most distinct slots with the fewest moves, keeping slots non-decreasing in
    /// arrival order. No call goes to a slot before <paramref name="earliestSlotMs"/>.
    /// </summary>
    static void Attribute(List<long> arrival, int phase, int period, long earliestSlotMs, List<long> slot)
    {
        int n = arrival.Count, w = MaxSlotsBack + 1;
        slot.Clear();
        if (n == 0) return;
        var near = new long[n];
        bool crowded = false;
        for (int i = 0; i < n; i++)
        {
            near[i] = FloorDiv(arrival[i] + GuardMs - phase, period);
            if (i > 0 && near[i] == near[i - 1]) crowded = true;
        }
        // Moves only ever pay where two calls share a slot; most jobs have none.
        if (!crowded)
        {
            foreach (var k in near) slot.Add(k);
            return;
        }
        bool Allowed(int i, int s) => s == 0 || phase + (near[i] - s) * period >= earliestSlotMs;

        // score[i, s]: (distinct slots covered) * 2^20 - moves, for call i at near[i] - s.
        const long Unset = long.MinValue;
        var score = new long[n, w];
        var from = new int[n, w];
        for (int s = 0; s < w; s++) score[0, s] = Allowed(0, s) ? (1L << 20) - s : Unset;
        for (int i = 1; i < n; i++)
        {
            for (int s = 0; s < w; s++)
            {
                score[i, s] = Unset;
                if (!Allowed(i, s)) continue;
                long x = near[i] - s;
                for (int p = 0; p < w; p++)
                {
                    if (score[i - 1, p] == Unset) continue;
                    long px = near[i - 1] - p;
                    if (x < px) continue;
                    long v = score[i - 1, p] + (x != px ? 1L << 20 : 0) - s;
                    if (v > score[i, s]) { score[i, s] = v; from[i, s] = p; }
                }
            }
        }
        int best = 0;
        for (int s = 1; s < w; s++) if (score[n - 1, s] > score[n - 1, best]) best = s;
        var choice = new int[n];
        for (int i = n - 1; i >= 0; i--)
        {
            choice[i] = best;
            if (i > 0) best = from[i, best];
        }
        for (int i = 0; i < n; i++) slot.Add(near[i] - choice[i]);
    }

    static long FirstSlotAtOrAfter(long t, int phase, int period)
    {
        long k = FloorDiv(t - phase + period - 1, period);
        return phase + k * period;
    }

    static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>Parses "1732480200.123 /hook/12/250/1000" without allocating.</summary>
    static bool TryParse(string line, out long arrivalMs, out int job, out int phase, out int period)
    {
        arrivalMs = 0; job = phase = period = 0;
        var s = line.AsSpan();
        int sp = s.IndexOf(' ');
        if (sp < 0) return false;
        var t = s[..sp];
        int dot = t.IndexOf('.');
        if (dot < 0 || t.Length - dot - 1 != 3) return false;
        if (!long.TryParse(t[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out long sec)) return false;
        if (!int.TryParse(t[(dot + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int ms)) return false;
        arrivalMs = sec * 1000 + ms;
        var u = s[(sp + 1)..];
        if (!u.StartsWith("/hook/")) return false;
        u = u[6..];
        int q = u.IndexOf('?');
        if (q >= 0) u = u[..q];
        Span<Range> parts = stackalloc Range[4];
        if (u.Split(parts, '/') != 3) return false;
        return int.TryParse(u[parts[0]], NumberStyles.None, CultureInfo.InvariantCulture, out job)
            && int.TryParse(u[parts[1]], NumberStyles.None, CultureInfo.InvariantCulture, out phase)
            && int.TryParse(u[parts[2]], NumberStyles.None, CultureInfo.InvariantCulture, out period)
            && period > 0;
    }
}
