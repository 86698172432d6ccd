namespace KsanaBench;

/// <summary>
/// Starts every system once before anything is measured: it must answer /health, accept a firing
/// job and a quiet job, and say whether it can keep a sub-second phase. A system that cannot is
/// left out with a note, so that one broken peer does not cost the whole run.
/// </summary>
static class Preflight
{
    public static async Task Run(Ctx ctx)
    {
        foreach (var sys in ctx.Systems.Where(s => s.Key != "hangfire-1s").ToList())
        {
            string? problem = null;
            try
            {
                using var rs = RunningSystem.Start(ctx, sys, ctx.NewDataDir($"{sys.Key}-preflight"), "preflight");
                var firing = await rs.Api.CreateOne(ctx.FiringJob(0, 0, Ctx.NowMs() / 1000 * 1000));
                if (!firing.Ok) problem = "POST /jobs of an every-1s job failed: " + firing.Error;
                foreach (var every in new[] { "3600s", "60s" })
                {
                    ctx.QuietEvery[sys.Key] = every;
                    var quiet = await rs.Api.CreateOne(ctx.QuietJobFor(sys)(1));
                    if (quiet.Ok) break;
                    if (every == "60s") problem ??= "POST /jobs of a 3600s or 60s job failed: " + quiet.Error;
                }
                if (ctx.QuietEvery[sys.Key] != "3600s")
                    ctx.Results.Notes.Add($"{sys.Label} refuses an every-3600s job, so its API load uses every-60s jobs; "
                        + "those can fire during the longer scenarios (100 000 jobs), which costs it some CPU and memory there.");
                var stop = rs.Stop(10);
                if (sys.IsKsana && (!stop.Graceful || stop.ExitCode != 0))
                    ctx.Results.Notes.Add($"Ksana did not exit 0 on SIGTERM with an idle job table (exit {stop.ExitCode}, graceful {stop.Graceful}).");
            }
            catch (Exception e) when (e is BenchException or IOException or HttpRequestException or InvalidOperationException)
            {
                problem = e.Message;
            }
            if (problem is null) { ctx.Log($"preflight {sys.Key}: ok (quiet jobs every {ctx.QuietEvery[sys.Key]})"); continue; }
            ctx.Log($"preflight {sys.Key}: {problem}");
            if (sys.IsKsana) throw new BenchException("Ksana failed its preflight: " + problem);
            ctx.Results.Notes.Add($"{sys.Label} left out: {problem}");
            // Its run variants go with it (Hangfire's 1 s polling), not the other systems of its
            // folder (Quartz.NET on SQLite does not depend on PostgreSQL).
            ctx.Systems.RemoveAll(s => s.Key == sys.Key || (sys.Key == "hangfire" && s.Key == "hangfire-1s"));
        }
        foreach (var s in ctx.Systems)
            if (!ctx.QuietEvery.ContainsKey(s.Key))
                ctx.QuietEvery[s.Key] = ctx.QuietEvery.GetValueOrDefault(s.Family, "3600s");
    }
}
