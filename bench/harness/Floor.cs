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
        for (int i = 0; i < jobs; i++) phases[i] = Delivery.Phase(i, jobs, mode);
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
        var (cpu, rssMax, hwm) = Delivery.Watch(child.Pid, w1);
        Ctx.SleepUntilMs(w1 + 2000);
        var stop = child.Stop(TimeSpan.FromSeconds(5));
        var cut = ctx.Callee.Cut(Path.Combine(ctx.RunDir, $"callee-{tag}.log"));

        // Every job exists from the log's start, so no creation time narrows the analysis.
        var lat = LatenessAnalyzer.Analyze(cut, phases, 1000, w0, w1, logStart);
        if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") File.Delete(cut);
        return new DeliveryResult("floor", jobs, mode, stop.ExitCode is 0 ? "ok" : $"exit code {stop.ExitCode}", 1, lat,
            lat.CallsInWindow > 0 ? cpu * 1e6 / lat.CallsInWindow : null,
            100 * cpu / ((w1 - w0) / 1000.0), rssMax, hwm, null, stop.ExitCode, stop.Graceful, stop.Seconds)
        { WindowMs = [w0, w1, logStart] };
    }
}
