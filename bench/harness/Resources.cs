namespace KsanaBench;

/// <summary>
/// Start-up to a served /health with 0, 10 000 and 100 000 jobs persisted (restart after SIGTERM),
/// memory after start, idle CPU with no jobs, and memory with 100 000 jobs created through the API.
/// Peers keep nothing across a restart, so for them only the empty start-up is measured.
/// </summary>
static class Resources
{
    public static async Task RunAll(Ctx ctx)
    {
        var order = ctx.ApiSystems.ToList();
        foreach (var sys in order)
        {
            ResourceResult r;
            if (sys.DurablePeer)
                r = new ResourceResult(sys.Key, "not run (durable peer)");
            else if (!ctx.HasTime(sys, 60))
                r = new ResourceResult(sys.Key, "skipped (time budget)");
            else
            {
                try { r = await RunOne(ctx, sys); }
                catch (Exception e) when (e is BenchException or IOException or HttpRequestException or InvalidOperationException)
                {
                    r = new ResourceResult(sys.Key, "failed: " + e.Message);
                }
            }
            ctx.Log($"resources {sys.Key}: {r.Status}" + (r.Startup.Count == 0 ? "" : "; start-up " + string.Join(", ", r.Startup.Select(s => $"{s.Jobs} jobs {s.ReadyMs:0.0} ms {s.RssAfter1sKb / 1024} MB"))
                + $"; idle {r.IdleCpuPercent:0.00} % {r.IdleRssKb / 1024} MB; 100k {r.Rss100kKb / 1024} MB"));
            ctx.Results.Resources.Add(r);
            Report.Save(ctx);
        }
    }

    static async Task<ResourceResult> RunOne(Ctx ctx, SystemDef sys)
    {
        var dataDir = ctx.NewDataDir($"{sys.Key}-resources");
        var problems = new List<string>();
        var startup = new List<StartupPoint>();

        // Start-up with nothing persisted: the last of the repetitions stays up for the idle figures.
        var rs = Restarts(ctx, sys, dataDir, 0, startup, problems, keepLast: true, fresh: !sys.Persists);

        Thread.Sleep(1000);
        double cpu0 = ProcFs.CpuSeconds(rs.Pid);
        Thread.Sleep(ctx.IdleSeconds * 1000);
        double idle = 100 * (ProcFs.CpuSeconds(rs.Pid) - cpu0) / ctx.IdleSeconds;
        long idleRss = ProcFs.Memory(rs.Pid).RssKb;

        var c10 = await rs.Api.CreateMany(10_000, ctx.QuietJobFor(sys), Ctx.CreateConcurrency, DateTime.UtcNow + ctx.BulkCreateTimeout);
        if (c10.Created < 10_000) return Fail(rs, $"created {c10.Created} of 10 000 jobs" + FirstError(c10));
        Thread.Sleep(1000);
        long rss10k = ProcFs.Memory(rs.Pid).RssKb;
        double createSeconds = c10.Seconds;

        if (sys.Persists)
        {
            StopChecked(rs, problems, "10 000 jobs");
            rs = Restarts(ctx, sys, dataDir, 10_000, startup, problems, keepLast: true, fresh: false);
        }

        var c90 = await rs.Api.CreateMany(90_000, ctx.QuietJobFor(sys), Ctx.CreateConcurrency, DateTime.UtcNow + ctx.BulkCreateTimeout, startIndex: 10_000);
        createSeconds += c90.Seconds;
        if (c90.Created < 90_000) return Fail(rs, $"created {10_000 + c90.Created} of 100 000 jobs in {createSeconds:0} s" + FirstError(c90));
        Thread.Sleep(2000);
        var (rss100k, hwm100k) = ProcFs.Memory(rs.Pid);

        long? journal = null;
        if (sys.Persists)
        {
            StopChecked(rs, problems, "100 000 jobs");
            journal = ProcFs.DiskBytes(dataDir);
            rs = Restarts(ctx, sys, dataDir, 100_000, startup, problems, keepLast: true, fresh: false);
            // Every job must have come back.
            var ids = await rs.Api.ListAllIds();
            if (ids.Count != 100_000) problems.Add($"after restart GET /jobs lists {ids.Count} jobs, not 100 000");
        }
        StopChecked(rs, problems, "end");
        var (cronSeconds, cronStartup) = sys.IsKsana ? await CronJobs(ctx, sys, problems) : (null, null);

        return new ResourceResult(sys.Key, problems.Count == 0 ? "ok" : "ok (with problems)")
        {
            Create100kCronSeconds = cronSeconds, CronStartup = cronStartup,
            Startup = startup, IdleCpuPercent = idle, IdleRssKb = idleRss, Rss10kKb = rss10k,
            Rss100kKb = rss100k, Hwm100kKb = hwm100k, Create100kSeconds = createSeconds,
            JournalBytes100k = journal, Problems = problems,
        };

        static ResourceResult Fail(RunningSystem rs, string why)
        {
            var exited = rs.Child.HasExited ? $" (the process had exited, code {rs.Child.Process.ExitCode})" : "";
            rs.Stop(10);
            throw new BenchException(why + exited);
        }
        static string FirstError(Api.CreateOutcome o) => o.Errors.Count > 0 ? ": " + o.Errors[0] : "";
    }

    /// <summary>
    /// The same 100 000-job create and start-up as above with cron jobs, on a fresh directory, so
    /// that the two kinds can be compared (issue 10 aims at cron start-up ≤ 1.5× every).
    /// </summary>
    static async Task<(double?, StartupPoint?)> CronJobs(Ctx ctx, SystemDef sys, List<string> problems)
    {
        var dataDir = ctx.NewDataDir($"{sys.Key}-cron");
        var rs = RunningSystem.Start(ctx, sys, dataDir, "cron-create");
        var created = await rs.Api.CreateMany(100_000, ctx.QuietCronJob(), Ctx.CreateConcurrency, DateTime.UtcNow + ctx.BulkCreateTimeout);
        StopChecked(rs, problems, "100 000 cron jobs");
        if (created.Created < 100_000)
        {
            problems.Add($"created {created.Created} of 100 000 cron jobs" + (created.Errors.Count > 0 ? ": " + created.Errors[0] : ""));
            return (null, null);
        }
        var points = new List<StartupPoint>();
        StopChecked(Restarts(ctx, sys, dataDir, 100_000, points, problems, keepLast: true, fresh: false), problems, "cron end");
        return (created.Seconds, points[0]);
    }

    /// <summary>
    /// Starts the system StartupReps times on the same data directory (or a fresh one each time),
    /// timing exec → first 200 on /health; the median is recorded. The last instance is returned running.
    /// </summary>
    static RunningSystem Restarts(Ctx ctx, SystemDef sys, string dataDir, int jobs, List<StartupPoint> into,
        List<string> problems, bool keepLast, bool fresh)
    {
        var samples = new List<(double Ms, long RssReady, long Rss1s)>();
        RunningSystem? last = null;
        for (int rep = 0; rep < ctx.StartupReps; rep++)
        {
            var dir = fresh && rep > 0 ? ctx.NewDataDir($"{sys.Key}-startup") : dataDir;
            var rs = RunningSystem.Start(ctx, sys, dir, $"startup-{jobs}-{rep}");
            long rssReady = ProcFs.Memory(rs.Pid).RssKb;
            Thread.Sleep(1000);
            long rss1s = ProcFs.Memory(rs.Pid).RssKb;
            samples.Add((rs.ReadySeconds * 1000, rssReady, rss1s));
            if (rep == ctx.StartupReps - 1 && keepLast) last = rs;
            else StopChecked(rs, problems, $"start-up with {jobs} jobs");
        }
        var sorted = samples.OrderBy(s => s.Ms).ToList();
        var med = sorted[sorted.Count / 2];
        into.Add(new StartupPoint(jobs, med.Ms, [.. samples.Select(s => Math.Round(s.Ms, 2))],
            (long)Median(samples.Select(s => (double)s.RssReady)), (long)Median(samples.Select(s => (double)s.Rss1s))));
        return last!;
    }

    static double Median(IEnumerable<double> xs)
    {
        var a = xs.OrderBy(x => x).ToArray();
        return a[a.Length / 2];
    }

    /// <summary>SIGTERM; Ksana must exit 0 after draining (SPEC §1), so anything else is written down.</summary>
    static void StopChecked(RunningSystem rs, List<string> problems, string when)
    {
        var (code, graceful, secs) = rs.Stop(15);
        if (rs.Def.IsKsana && (!graceful || code != 0))
            problems.Add($"SIGTERM ({when}): " + (graceful ? $"exit code {code}" : "did not exit within 15 s, killed") + $" after {secs:0.0} s");
    }
}
