using System.Globalization;

namespace KsanaBench;

/// <summary>
/// The machine's floor for a delivery case (bench/floor/floor.c): a C program that makes the same
/// calls to the same callee at the same due times over 64 keep-alive connections, and does nothing
/// else. Timed from the callee's log and read from /proc exactly as the schedulers are, it shows
/// what no scheduler could beat on this machine: the lateness nginx and the kernel alone impose,
/// and the CPU the calls alone cost.
/// </summary>
static class Floor
{
    const int Connections = 64;

    public static DeliveryResult Run(Ctx ctx, string floorBin, int jobs, string mode)
    {
        var phases = new int[jobs];
        for (int i = 0; i < jobs; i++) phases[i] = mode == "spread" ? (int)((long)i * 1000 / jobs) : 0;
        File.Delete(ctx.Callee.Cut(Path.Combine(ctx.RunDir, "pre-floor.log")));
        long logStart = Ctx.NowMs();
        long origin = (logStart / 1000 + 1) * 1000;
        long w0 = origin + ctx.WarmupSeconds * 1000L;
        long w1 = w0 + ctx.WindowSeconds * 1000L;
        // The slot after the window is called too: the analysis looks at it (see LatenessAnalyzer).
        long until = w1 + 1000;
        string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        string tag = $"floor-{jobs}-{mode}";
        var logPath = Path.Combine(ctx.RunDir, "logs", tag + ".log");
        using var child = Child.Start(tag, floorBin,
            [I(ctx.Callee.Port), I(jobs), mode, I(origin), I(until), I(Connections)], new Dictionary<string, string?>(), logPath);

        Ctx.SleepUntilMs(w0);
        double cpu0 = ProcFs.CpuSeconds(child.Pid);
        long rssMax = 0;
        while (Ctx.NowMs() < w1 - 1000)
        {
            Ctx.SleepUntilMs(Math.Min(w1 - 1000, Ctx.NowMs() + 1000));
            rssMax = Math.Max(rssMax, ProcFs.Memory(child.Pid).RssKb);
        }
        Ctx.SleepUntilMs(w1);
        double cpu1 = ProcFs.CpuSeconds(child.Pid);
        var (rss, hwm) = ProcFs.Memory(child.Pid);
        rssMax = Math.Max(rssMax, rss);
        Ctx.SleepUntilMs(w1 + 2000);
        var stop = child.Stop(TimeSpan.FromSeconds(5));
        var cut = ctx.Callee.Cut(Path.Combine(ctx.RunDir, $"callee-{tag}.log"));

        var created = new long[jobs];
        Array.Fill(created, logStart);
        var lat = LatenessAnalyzer.Analyze(cut, phases, 1000, w0, w1, logStart, created);
        if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") File.Delete(cut);
        double cpu = cpu1 - cpu0;
        return new DeliveryResult("floor", jobs, mode, stop.ExitCode is 0 ? "ok" : $"exit code {stop.ExitCode}", 1, lat,
            lat.CallsInWindow > 0 ? cpu * 1e6 / lat.CallsInWindow : null,
            100 * cpu / ((w1 - w0) / 1000.0), rssMax, hwm, null, stop.ExitCode, stop.Graceful, stop.Seconds)
        { WindowMs = [w0, w1, logStart] };
    }
}
