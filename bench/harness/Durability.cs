using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace KsanaBench;

/// <summary>
/// kill -9 in the middle of a burst of concurrent creates, then a restart on the same DATA_DIR:
/// every job whose create was answered 201 must still be there. Run for every system that
/// acknowledges after fsync (Ksana and the durable peers; a peer lists its jobs at GET /jobs and
/// finds one at GET /jobs/{id}). And, for Ksana, kill -9 while jobs fire: every run that had
/// started must be accounted for after the restart.
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
                catch (Exception e) when (e is BenchException or IOException or HttpRequestException or InvalidOperationException
                                          or System.Net.Sockets.SocketException or TaskCanceledException or System.Text.Json.JsonException)
                {
                    r = new DurabilityResult(sys.Key, "failed: " + e.Message, 0, 0, 0, 0, null, null, null);
                }
            }
            ctx.Log($"kill -9 {sys.Key}: {r.Status} acked {r.Acknowledged} found {r.Found} lost {r.Lost}");
            ctx.Results.Durability.Add(r);
        }
        Report.Save(ctx);
    }

    const int MinAcknowledged = 100;

    static async Task<DurabilityResult> RunOne(Ctx ctx, SystemDef sys)
    {
        var dataDir = ctx.NewDataDir($"{sys.Key}-kill9");
        var rs = RunningSystem.Start(ctx, sys, dataDir, "kill9-a");
        var ids = new ConcurrentBag<string>();
        using var api = new Api(rs.Port, ctx.ApiKey, maxConnections: 64);
        var sw = Stopwatch.StartNew();
        var burst = api.CreateMany(int.MaxValue / 2, ctx.QuietJobFor(sys), 64, DateTime.UtcNow.AddSeconds(ctx.DurabilityBurstSeconds + 10), ids);
        await Task.Delay(TimeSpan.FromSeconds(ctx.DurabilityBurstSeconds));
        // A slow durable peer may not have acknowledged anything yet (its first commits, its JIT):
        // keep the burst going until some creates were acknowledged, for at most 10 s in all.
        while (ids.Count < MinAcknowledged && sw.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(50);
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
            return new DurabilityResult(sys.Key, lost.Count > 0 ? "LOST ACKNOWLEDGED JOBS" : acked.Count == 0 ? "no create acknowledged before the kill" : "ok",
                acked.Count, acked.Count - lost.Count, lost.Count, unacked, burstSeconds, again.ReadySeconds,
                lost.Take(5).ToList());
        }
        finally { again.Stop(10); }
    }

    // ---- kill -9 during firing (Ksana) -------------------------------------------------------

    public const int FiringJobs = 1000;

    public static async Task RunFiringKill(Ctx ctx)
    {
        foreach (var sys in ctx.ApiSystems.Where(s => s.IsKsana))
        {
            FiringKillResult r;
            if (!ctx.HasTime(sys, 40))
                r = new FiringKillResult(sys.Key, "skipped (time budget)", FiringJobs, 0, 0, 0, 0, 0, 0, 0, 0, null, null);
            else
            {
                try { r = await FiringKillOne(ctx, sys); }
                catch (Exception e) when (e is BenchException or IOException or HttpRequestException or InvalidOperationException or JsonException)
                {
                    r = new FiringKillResult(sys.Key, "failed: " + e.Message, FiringJobs, 0, 0, 0, 0, 0, 0, 0, 0, null, null);
                }
            }
            ctx.Log($"kill -9 during firing {sys.Key}: {r.Status}; runs before the kill {r.RunsBeforeKill}: succeeded {r.Succeeded}, failed {r.Failed} "
                + $"(interrupted {r.Interrupted}), skipped {r.Skipped}, left running {r.LeftRunning}; callee calls {r.CalleeCallsBeforeKill}, without a run {r.CallsWithoutRun}");
            ctx.Results.FiringKill.Add(r);
            Report.Save(ctx);
        }
    }

    /// <summary>
    /// 1 000 jobs every 1 s spread, every 20th calling the slow callee (2 s), so that about 50 runs
    /// are in flight at any instant; SIGKILL after about 4 s of firing, restart on the same
    /// DATA_DIR, then GET /jobs/{id}/runs for every job. Every run scheduled before the kill must
    /// be succeeded, failed (an interrupted run is failed, error "interrupted") or skipped, none
    /// running or retrying; and every call nginx logged before the kill must have a run record.
    /// </summary>
    static async Task<FiringKillResult> FiringKillOne(Ctx ctx, SystemDef sys)
    {
        using var slow = new SlowCallee();
        var dataDir = ctx.NewDataDir($"{sys.Key}-kill9-firing");
        var rs = RunningSystem.Start(ctx, sys, dataDir, "kill9-firing-a");
        File.Delete(ctx.Callee.Cut(Path.Combine(ctx.RunDir, "pre-firing-kill.log")));

        long originMs = Ctx.NowMs() / 1000 * 1000;
        var phase = new int[FiringJobs];
        var hook = new int[FiringJobs];        // hook index of a healthy job, -1 for a slow one
        var byHook = new List<int>();
        for (int i = 0; i < FiringJobs; i++)
        {
            phase[i] = i * 1000 / FiringJobs;
            if (i % Delivery.SlowOneIn == Delivery.SlowOneIn / 2) { hook[i] = -1; continue; }
            hook[i] = byHook.Count;
            byHook.Add(i);
        }
        var ids = new string?[FiringJobs];
        using (var api = new Api(rs.Port, ctx.ApiKey, maxConnections: 64))
        using (var gate = new SemaphoreSlim(Ctx.CreateConcurrency))
        {
            await Task.WhenAll(Enumerable.Range(0, FiringJobs).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    var body = hook[i] < 0 ? Ctx.FiringJobTo(i, slow.Url(i), phase[i], originMs) : ctx.FiringJob(hook[i], phase[i], originMs);
                    var (ok, id, err) = await api.CreateOne(body);
                    if (!ok) throw new BenchException($"create {i} failed: {err}");
                    ids[i] = id;
                }
                finally { gate.Release(); }
            }));
        }
        // Fire for about four seconds, then kill mid-second (slow runs in flight, others starting).
        Ctx.SleepUntilMs((Ctx.NowMs() / 1000 + 4) * 1000 + 437);
        long killMs = Ctx.NowMs();
        rs.Child.KillHard();
        rs.Dispose();
        Thread.Sleep(300);
        var logPath = ctx.Callee.Cut(Path.Combine(ctx.RunDir, "callee-firing-kill.log"));

        var again = RunningSystem.Start(ctx, sys, dataDir, "kill9-firing-b");
        try
        {
            int before = 0, succeeded = 0, failed = 0, interrupted = 0, skipped = 0, running = 0;
            var sample = new List<string>();
            var slotsWithRun = new HashSet<(int Job, long Slot)>();
            for (int i = 0; i < FiringJobs; i++)
            {
                var json = await again.Api.GetString($"/jobs/{ids[i]}/runs")
                    ?? throw new BenchException($"GET /jobs/{ids[i]}/runs failed after the restart");
                using var doc = JsonDocument.Parse(json);
                foreach (var run in doc.RootElement.GetProperty("runs").EnumerateArray())
                {
                    if (!run.TryGetProperty("scheduled_at", out var sa) || sa.ValueKind != JsonValueKind.String) continue;
                    long at = DateTimeOffset.Parse(sa.GetString()!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
                    if (at >= killMs) continue;
                    before++;
                    slotsWithRun.Add((i, at));
                    var status = run.TryGetProperty("status", out var st) ? st.GetString() : null;
                    switch (status)
                    {
                        case "succeeded": succeeded++; break;
                        case "failed":
                            failed++;
                            if (run.TryGetProperty("error", out var er) && er.ValueKind == JsonValueKind.String
                                && er.GetString()!.Contains("interrupted", StringComparison.OrdinalIgnoreCase)) interrupted++;
                            break;
                        case "skipped": case "missed": skipped++; break;
                        default:
                            running++;
                            if (sample.Count < 5) sample.Add($"job {ids[i]} run {(run.TryGetProperty("run_id", out var rid) ? rid.ToString() : "?")} scheduled {sa.GetString()} status {status}");
                            break;
                    }
                }
            }
            // Every call nginx logged before the kill belongs to a slot that must have a run record.
            int calls = 0, orphan = 0;
            foreach (var line in File.ReadLines(logPath))
            {
                var sp = line.IndexOf(' ');
                if (sp < 0 || !double.TryParse(line.AsSpan(0, sp), NumberStyles.Float, CultureInfo.InvariantCulture, out var sec)) continue;
                long a = (long)Math.Round(sec * 1000);
                var parts = line[(sp + 1)..].Split('/');
                if (parts.Length < 5 || parts[1] != "hook" || !int.TryParse(parts[2], CultureInfo.InvariantCulture, out var h) || h < 0 || h >= byHook.Count) continue;
                if (a >= killMs) continue;
                calls++;
                int i = byHook[h];
                long slot = (a + LatenessAnalyzer.GuardMs - phase[i] - originMs) / 1000 * 1000 + originMs + phase[i];
                if (!slotsWithRun.Contains((i, slot)) && !slotsWithRun.Contains((i, slot - 1000)))
                {
                    orphan++;
                    if (sample.Count < 5) sample.Add($"callee call at {Ctx.Iso(a)} for job {ids[i]} slot {Ctx.Iso(slot)}: no run record");
                }
            }
            if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") File.Delete(logPath);
            bool ok = running == 0 && orphan == 0 && before > 0;
            return new FiringKillResult(sys.Key, ok ? "ok" : before == 0 ? "no runs before the kill" : "RUNS NOT ACCOUNTED FOR",
                FiringJobs, before, succeeded, failed, interrupted, skipped, running, calls, orphan, again.ReadySeconds, sample);
        }
        finally { again.Stop(10); }
    }
}
