using System.Collections.Concurrent;
using System.Diagnostics;

namespace KsanaBench;

/// <summary>
/// kill -9 in the middle of a burst of concurrent creates, then a restart on the same DATA_DIR:
/// every job whose create was answered 201 must still be there.
/// </summary>
static class Durability
{
    public static async Task RunAll(Ctx ctx)
    {
        foreach (var sys in ctx.ApiSystems)
        {
            DurabilityResult r;
            if (!sys.Persists)
                r = new DurabilityResult(sys.Key, "n/a (in-memory)", 0, 0, 0, 0, null, null, null);
            else if (!ctx.HasTime(sys, 30))
                r = new DurabilityResult(sys.Key, "skipped (time budget)", 0, 0, 0, 0, null, null, null);
            else
            {
                try { r = await RunOne(ctx, sys); }
                catch (Exception e) when (e is BenchException or IOException or HttpRequestException or InvalidOperationException)
                {
                    r = new DurabilityResult(sys.Key, "failed: " + e.Message, 0, 0, 0, 0, null, null, null);
                }
            }
            ctx.Log($"kill -9 {sys.Key}: {r.Status} acked {r.Acknowledged} found {r.Found} lost {r.Lost}");
            ctx.Results.Durability.Add(r);
        }
        Report.Save(ctx);
    }

    static async Task<DurabilityResult> RunOne(Ctx ctx, SystemDef sys)
    {
        var dataDir = ctx.NewDataDir($"{sys.Key}-kill9");
        var rs = RunningSystem.Start(ctx, sys, dataDir, "kill9-a");
        var ids = new ConcurrentBag<string>();
        using var api = new Api(rs.Port, ctx.ApiKey, maxConnections: 64);
        var sw = Stopwatch.StartNew();
        var burst = api.CreateMany(int.MaxValue / 2, ctx.QuietJobFor(sys), 64, DateTime.UtcNow.AddSeconds(ctx.DurabilityBurstSeconds + 10), ids);
        await Task.Delay(TimeSpan.FromSeconds(ctx.DurabilityBurstSeconds));
        rs.Child.KillHard();
        double burstSeconds = sw.Elapsed.TotalSeconds;
        await burst; // the creates still in flight fail: they were never acknowledged
        rs.Dispose();
        var acked = ids.ToHashSet();

        var again = RunningSystem.Start(ctx, sys, dataDir, "kill9-b");
        try
        {
            var listed = await again.Api.ListAllIds();
            var missing = acked.Where(id => !listed.Contains(id)).ToList();
            var lost = new List<string>();
            foreach (var id in missing)
                if (await again.Api.GetStatus("/jobs/" + id) != System.Net.HttpStatusCode.OK) lost.Add(id);
            int unacked = listed.Count(id => !acked.Contains(id));
            return new DurabilityResult(sys.Key, lost.Count == 0 ? "ok" : "LOST ACKNOWLEDGED JOBS",
                acked.Count, acked.Count - lost.Count, lost.Count, unacked, burstSeconds, again.ReadySeconds,
                lost.Take(5).ToList());
        }
        finally { again.Stop(10); }
    }
}
