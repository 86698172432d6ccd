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
        var runs = new Dictionary<(string, int), List<CreateResult>>();
        int turn = 0;
        for (int rep = 0; rep < ctx.CreateReps; rep++)
        {
            foreach (var clients in Clients)
            {
                // Alternate the order of systems from one level (and repetition) to the next.
                var order = ctx.ApiSystems.ToList();
                if (turn++ % 2 == 1) order.Reverse();
                foreach (var sys in order)
                {
                    // Durable peers: 1 and 64 clients (the single-client latency of a commit, and the aim's level).
                    if (sys.DurablePeer && clients is not (1 or 64)) continue;
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
                    ctx.Log($"creates {clients} clients {sys.Key} (run {rep + 1}): " + (r.OkPerSecond is { } ps
                        ? string.Create(CultureInfo.InvariantCulture, $"{ps:0}/s p50 {r.P50Ms:0.000} ms p99 {r.P99Ms:0.000} ms non-2xx {r.Non2xx}")
                        : r.Status));
                    (runs.TryGetValue((sys.Key, clients), out var l) ? l : runs[(sys.Key, clients)] = []).Add(r);
                }
            }
        }
        foreach (var clients in Clients)
            foreach (var sys in ctx.ApiSystems)
                if (runs.TryGetValue((sys.Key, clients), out var l)) ctx.Results.Creates.Add(Median(l));
        Report.Save(ctx);
    }

    /// <summary>The median of each figure over the repetitions that ran; non-2xx answers are summed.</summary>
    static CreateResult Median(List<CreateResult> runs)
    {
        var ok = runs.Where(r => r.OkPerSecond is not null).ToList();
        if (ok.Count == 0) return runs[0];
        static double Med(IEnumerable<double> xs) { var a = xs.OrderBy(x => x).ToArray(); return a[a.Length / 2]; }
        return ok[0] with
        {
            Runs = ok.Count,
            OkPerSecond = Med(ok.Select(r => r.OkPerSecond!.Value)),
            P50Ms = Med(ok.Select(r => r.P50Ms ?? 0)),
            P99Ms = Med(ok.Select(r => r.P99Ms ?? 0)),
            Requests = ok.Sum(r => r.Requests ?? 0),
            Non2xx = ok.Sum(r => r.Non2xx ?? 0),
            RssKb = (long)Med(ok.Select(r => (double)(r.RssKb ?? 0))),
            Samples = [.. ok.Select(r => Math.Round(r.OkPerSecond!.Value))],
        };
    }

    static CreateResult RunOne(Ctx ctx, SystemDef sys, int clients)
    {
        string tag = $"creates-{clients}";
        using var rs = RunningSystem.Start(ctx, sys, ctx.NewDataDir($"{sys.Key}-{tag}"), tag);
        var script = Path.Combine(ctx.RunDir, "post-jobs.lua");
        File.WriteAllText(script, LuaScript(ctx, sys));
        var url = $"http://127.0.0.1:{rs.Port}/jobs";
        RunWrk(ctx, clients, ctx.WrkWarmupSeconds, script, url, $"{sys.Key}-warmup");
        var w = RunWrk(ctx, clients, ctx.WrkSeconds, script, url, $"{sys.Key}-measure");
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
        File.Delete(outPath);
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
