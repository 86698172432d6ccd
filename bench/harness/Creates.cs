using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace KsanaBench;

/// <summary>
/// POST /jobs throughput with wrk at 1, 8, 64 and 256 connections, each on a fresh instance
/// (so the store is equally empty for every system), after a short warm-up run that is thrown
/// away (it lets the JIT-compiled peers reach steady code). Ksana acknowledges a create only once
/// it is fsync'd; the peers keep jobs in memory.
/// </summary>
static partial class Creates
{
    public static readonly int[] Clients = [1, 8, 64, 256];

    public static void RunAll(Ctx ctx)
    {
        int levelIndex = 0;
        foreach (var clients in Clients)
        {
            var order = ctx.ApiSystems.ToList();
            if (levelIndex++ % 2 == 1) order.Reverse();
            foreach (var sys in order)
            {
                CreateResult r;
                if (!ctx.HasTime(sys, ctx.WrkSeconds + ctx.WrkWarmupSeconds + 5))
                    r = new CreateResult(sys.Key, clients, "skipped (time budget)", null, null, null, null, null, null, null);
                else
                {
                    try { r = RunOne(ctx, sys, clients); }
                    catch (Exception e) when (e is BenchException or IOException or InvalidOperationException)
                    {
                        r = new CreateResult(sys.Key, clients, "failed: " + e.Message, null, null, null, null, null, null, null);
                    }
                }
                ctx.Log($"creates {clients} clients {sys.Key}: " + (r.OkPerSecond is { } ps
                    ? string.Create(CultureInfo.InvariantCulture, $"{ps:0}/s p50 {r.P50Ms:0.000} ms p99 {r.P99Ms:0.000} ms non-2xx {r.Non2xx}")
                    : r.Status));
                ctx.Results.Creates.Add(r);
            }
            Report.Save(ctx);
        }
    }

    static CreateResult RunOne(Ctx ctx, SystemDef sys, int clients)
    {
        string tag = $"creates-{clients}";
        using var rs = RunningSystem.Start(ctx, sys, ctx.NewDataDir($"{sys.Key}-{tag}"), tag);
        var script = Path.Combine(ctx.RunDir, "post-jobs.lua");
        File.WriteAllText(script, LuaScript(ctx, sys));
        var url = $"http://127.0.0.1:{rs.Port}/jobs";
        RunWrk(ctx, clients, ctx.WrkWarmupSeconds, script, url, "warmup");
        var w = RunWrk(ctx, clients, ctx.WrkSeconds, script, url, "measure");
        var rss = ProcFs.Memory(rs.Pid).RssKb;
        rs.Stop(10);
        return w with { System = sys.Key, Clients = clients, RssKb = rss };
    }

    /// <summary>wrk's request: the same quiet job (first due an hour later) for every system.</summary>
    static string LuaScript(Ctx ctx, SystemDef sys)
    {
        var body = ctx.QuietJobFor(sys)(0).Replace("\\", "\\\\").Replace("'", "\\'");
        return $"""
            wrk.method = "POST"
            wrk.body = '{body}'
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["X-API-Key"] = "{ctx.ApiKey}"
            """;
    }

    static CreateResult RunWrk(Ctx ctx, int clients, int seconds, string script, string url, string what)
    {
        int threads = Math.Min(clients, 2);
        var args = new[] { "-t", threads.ToString(CultureInfo.InvariantCulture), "-c", clients.ToString(CultureInfo.InvariantCulture),
            "-d", $"{seconds}s", "--timeout", "5s", "--latency", "-s", script, url };
        var outPath = Path.Combine(ctx.RunDir, "logs", $"wrk-{clients}-{what}.txt");
        using (var c = Child.Start("wrk", ctx.Wrk, args, new Dictionary<string, string?>(), outPath))
        {
            if (!c.Process.WaitForExit(TimeSpan.FromSeconds(seconds + 30)))
                throw new BenchException("wrk did not finish");
            c.Process.WaitForExit();
        }
        return Parse(File.ReadAllText(outPath));
    }

    [GeneratedRegex(@"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", RegexOptions.Multiline)]
    private static partial Regex RequestsLine();
    [GeneratedRegex(@"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline)]
    private static partial Regex PercentileLine();
    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xxLine();
    [GeneratedRegex(@"Socket errors: (.*)")]
    private static partial Regex SocketErrorsLine();

    public static CreateResult Parse(string output)
    {
        var rl = RequestsLine().Match(output);
        if (!rl.Success) throw new BenchException("unexpected wrk output: " + output.Trim().Replace('\n', ' '));
        long requests = long.Parse(rl.Groups[1].Value, CultureInfo.InvariantCulture);
        double seconds = ToMs(rl.Groups[2].Value, rl.Groups[3].Value) / 1000;
        double? p50 = null, p99 = null;
        foreach (Match m in PercentileLine().Matches(output))
        {
            var v = ToMs(m.Groups[2].Value, m.Groups[3].Value);
            if (m.Groups[1].Value == "50") p50 = v; else p99 = v;
        }
        var n2 = Non2xxLine().Match(output);
        long non2xx = n2.Success ? long.Parse(n2.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var se = SocketErrorsLine().Match(output);
        return new CreateResult("", 0, non2xx == 0 ? "ok" : "ok (with non-2xx answers)",
            (requests - non2xx) / seconds, p50, p99, requests, non2xx, se.Success ? se.Groups[1].Value.Trim() : null, null);
    }

    static double ToMs(string v, string unit)
    {
        double x = double.Parse(v, CultureInfo.InvariantCulture);
        return unit switch { "us" => x / 1000, "ms" => x, "s" => x * 1000, "m" => x * 60_000, _ => x };
    }
}

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
