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
/// (milliseconds since the epoch). A call arriving at a is attributed to the latest grid
/// instant at or before a + guard (guard = the early tolerance, default 100 ms): a scheduler
/// that fires a few milliseconds early is charged a small negative lateness rather than almost
/// a whole period, while a call up to period − guard late still counts against its own slot.
/// Lateness = a − nominal. The measured window is the set of slots whose nominal time lies in
/// [w0, w1); a slot there with no call is lost, one with more than one call is a duplicate.
/// Callbacks per second count every hook request that arrived within [w0, w1).
/// </summary>
static class LatenessAnalyzer
{
    public static Lateness Analyze(string logPath, int[] phaseMs, int periodMs, long w0Ms, long w1Ms, int guardMs)
    {
        int jobs = phaseMs.Length;
        int slotsPerJob = (int)((w1Ms - w0Ms + periodMs - 1) / periodMs);
        var counts = new byte[(long)jobs * slotsPerJob];
        long expected = 0;
        for (int j = 0; j < jobs; j++)
            for (int m = 0; m < slotsPerJob; m++)
                if (FirstSlotAtOrAfter(w0Ms, phaseMs[j], periodMs) + (long)m * periodMs < w1Ms) expected++;

        var late = new List<int>(capacity: (int)Math.Min(expected + 1024, int.MaxValue / 2));
        long inWindow = 0, early = 0, stray = 0, dupCalls = 0;

        foreach (var line in File.ReadLines(logPath))
        {
            if (!TryParse(line, out long a, out int job, out int phase, out int period))
            {
                if (line.Length > 0) stray++;
                continue;
            }
            if (a >= w0Ms && a < w1Ms) inWindow++;
            if (job < 0 || job >= jobs || period != periodMs || phase != phaseMs[job]) { stray++; continue; }
            long k = FloorDiv(a + guardMs - phase, period);
            long nominal = phase + k * period;
            if (nominal < w0Ms || nominal >= w1Ms) continue;
            int lateness = (int)(a - nominal);
            late.Add(lateness);
            if (lateness < 0) early++;
            long m = (nominal - FirstSlotAtOrAfter(w0Ms, phase, period)) / period;
            ref byte c = ref counts[(long)job * slotsPerJob + m];
            if (c > 0) dupCalls++;
            if (c < 255) c++;
        }

        long lost = 0, dupSlots = 0;
        for (int j = 0; j < jobs; j++)
        {
            long first = FirstSlotAtOrAfter(w0Ms, phaseMs[j], periodMs);
            for (int m = 0; m < slotsPerJob; m++)
            {
                if (first + (long)m * periodMs >= w1Ms) break;
                byte c = counts[(long)j * slotsPerJob + m];
                if (c == 0) lost++;
                else if (c > 1) dupSlots++;
            }
        }

        late.Sort();
        int n = late.Count;
        int Pct(double p) => n == 0 ? 0 : late[Math.Clamp((int)Math.Ceiling(p * n) - 1, 0, n - 1)];
        long within = 0;
        foreach (var l in late) if (l <= 50) within++;
        double seconds = (w1Ms - w0Ms) / 1000.0;
        return new Lateness(inWindow, inWindow / seconds, n,
            Pct(0.50), Pct(0.99), Pct(0.999), n == 0 ? 0 : late[^1], n == 0 ? 0 : late[0],
            n == 0 ? 0 : 100.0 * within / n, expected, lost, dupSlots, dupCalls, early, stray);
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
