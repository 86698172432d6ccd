using System.Globalization;

namespace KsanaBench;

/// <summary>
/// N jobs every 1 s, their due times spread evenly across the second or all at the same instant;
/// lateness, losses and duplicates measured at the callee, CPU and memory from /proc.
/// </summary>
static class Delivery
{
    static readonly (int Jobs, string Mode)[] AllCases =
        [(1000, "spread"), (1000, "aligned"), (10_000, "spread"), (10_000, "aligned"), (50_000, "spread"), (50_000, "aligned")];

    /// <summary>Every case, or (development) those named in BENCH_CASES, e.g. <c>10000:spread,50000:aligned</c>.</summary>
    public static readonly (int Jobs, string Mode)[] Cases =
        Environment.GetEnvironmentVariable("BENCH_CASES") is { Length: > 0 } named
            ? AllCases.Where(c => named.Split(',').Contains($"{c.Jobs}:{c.Mode}")).ToArray()
            : AllCases;

    public static async Task RunAll(Ctx ctx)
    {
        int caseIndex = 0;
        foreach (var (jobs, mode) in Cases)
        {
            var runs = new Dictionary<string, List<DeliveryResult>>();
            var notApplicable = new HashSet<string>();
            for (int rep = 0; rep < ctx.DeliveryReps; rep++)
            {
                // Alternate the order of systems from one case (and repetition) to the next so that
                // no system always runs first on a cold machine or last on a warm one.
                var order = ctx.DeliverySystems.ToList();
                if ((caseIndex + rep) % 2 == 1) order.Reverse();
                foreach (var sys in order)
                {
                    if (notApplicable.Contains(sys.Key)) continue;
                    double need = ctx.WarmupSeconds + ctx.WindowSeconds + 8 + jobs / 5000.0;
                    DeliveryResult r;
                    if (!ctx.HasTime(sys, need))
                        r = Skip(sys, jobs, mode, "skipped (time budget)");
                    else if (ctx.CreateLimit.TryGetValue(sys.Key, out var limit) && jobs >= limit)
                        r = Skip(sys, jobs, mode, $"n/a (could not take {limit:#,0} jobs in {ctx.CreateTimeout.TotalSeconds:0} s)");
                    else if (sys.DurablePeer && jobs > 1000 && !(ctx.DurableCreateRate.TryGetValue(sys.Key, out var rate)
                             && jobs / rate <= ctx.CreateTimeout.TotalSeconds))
                        r = Skip(sys, jobs, mode, ctx.DurableCreateRate.TryGetValue(sys.Key, out var rate2)
                            ? $"n/a (creates {rate2:#,0} jobs/s: {jobs:#,0} would take over {ctx.CreateTimeout.TotalSeconds:0} s)"
                            : "n/a (no smaller case created)");
                    else
                    {
                        try { r = await RunOne(ctx, sys, jobs, mode, rep); }
                        catch (BenchException e) { r = Skip(sys, jobs, mode, "failed: " + e.Message); }
                        catch (Exception e) { r = Skip(sys, jobs, mode, "failed: " + e.GetType().Name + ": " + e.Message); }
                    }
                    ctx.Log($"delivery {jobs} {mode} {sys.Key}: {Describe(r)}");
                    if (sys.DurablePeer && r.CreateSeconds is { } cs && cs > 0)
                        ctx.DurableCreateRate[sys.Key] = Math.Min(jobs / cs, ctx.DurableCreateRate.GetValueOrDefault(sys.Key, double.MaxValue));
                    (runs.TryGetValue(sys.Key, out var l) ? l : runs[sys.Key] = []).Add(r);
                    // A spread-incapable peer gives n/a once; don't repeat it.
                    if (r.Status.StartsWith("n/a", StringComparison.Ordinal)) notApplicable.Add(sys.Key);
                }
            }
            foreach (var sys in ctx.DeliverySystems)
                if (runs.TryGetValue(sys.Key, out var l)) ctx.Results.Delivery.Add(Median(l));
            // The machine's floor for this case, after the systems (it takes 15 s; peers yield first).
            if (ctx.FloorBin is { } floorBin && ctx.HasTime(essential: false, ctx.WarmupSeconds + ctx.WindowSeconds + 8))
            {
                DeliveryResult f;
                try { f = Floor.Run(ctx, floorBin, jobs, mode); }
                catch (Exception e) { f = Skip("floor", jobs, mode, "failed: " + e.Message); }
                ctx.Log($"delivery {jobs} {mode} floor: {Describe(f)}");
                ctx.Results.Floor.Add(f);
            }
            caseIndex++;
            Report.Save(ctx);
        }
    }

    static string Describe(DeliveryResult r) => r.Lateness is { } l
        ? string.Create(CultureInfo.InvariantCulture,
            $"{l.CallbacksPerSecond:0}/s p50 {l.P50Ms} p99 {l.P99Ms} max {l.MaxMs} ms, lost {l.Lost}, dup {l.DuplicateSlots}, {r.CpuUsPerCallback:0.0} µs/cb, rss {r.RssKb / 1024} MB")
            + (r.AllocatedBytesPerCallback is { } a ? string.Create(CultureInfo.InvariantCulture, $", {a:0} B allocated/cb") : "")
        : r.Status;

    static DeliveryResult Skip(SystemDef s, int jobs, string mode, string why) => Skip(s.Key, jobs, mode, why);

    internal static DeliveryResult Skip(string system, int jobs, string mode, string why) =>
        new(system, jobs, mode, why, 0, null, null, null, null, null, null, null, null, null);

    /// <summary>Job <paramref name="i"/>'s phase in a case: spread evenly over the second, or 0 for all (aligned).</summary>
    internal static int Phase(int i, int jobs, string mode) => mode == "spread" ? (int)((long)i * 1000 / jobs) : 0;

    /// <summary>
    /// From now (the window's start) to <paramref name="w1"/>: the CPU <paramref name="pid"/> used, and
    /// its resident memory, read every second (the largest) and at the end with its peak (VmHWM).
    /// </summary>
    internal static (double CpuSeconds, long RssMaxKb, long HwmKb) Watch(int pid, long w1)
    {
        double cpu0 = ProcFs.CpuSeconds(pid);
        long rssMax = 0;
        while (Ctx.NowMs() < w1 - 1000)
        {
            Ctx.SleepUntilMs(Math.Min(w1 - 1000, Ctx.NowMs() + 1000));
            rssMax = Math.Max(rssMax, ProcFs.Memory(pid).RssKb);
        }
        Ctx.SleepUntilMs(w1);
        double cpu = ProcFs.CpuSeconds(pid) - cpu0;
        var (rss, hwm) = ProcFs.Memory(pid);
        return (cpu, Math.Max(rssMax, rss), hwm);
    }

    /// <summary>The slow-callee case: jobs, and one in how many calls the slow callee (the rest call nginx).</summary>
    public const int SlowJobs = 1000, SlowOneIn = 20;
    public const string SlowMode = "spread, 5 % slow";

    /// <summary>
    /// 1 000 jobs every 1 s spread, 50 of them (every 20th) calling a callee that answers after
    /// 2 s; lateness, losses and CPU are those of the 950 healthy jobs (see bench/README.md for
    /// why this case). Systems that cannot keep a sub-second phase are n/a, as in the spread cases.
    /// </summary>
    public static async Task RunSlowCallee(Ctx ctx)
    {
        using var slow = new SlowCallee();
        var order = ctx.DeliverySystems.Where(s => s.Key != "hangfire-1s").ToList();
        foreach (var sys in order)
        {
            DeliveryResult r;
            if (!ctx.HasTime(sys, ctx.WarmupSeconds + ctx.WindowSeconds + 12))
                r = Skip(sys, SlowJobs, SlowMode, "skipped (time budget)");
            else
            {
                try { r = await RunOne(ctx, sys, SlowJobs, "spread", 0, slow); }
                catch (BenchException e) { r = Skip(sys, SlowJobs, SlowMode, "failed: " + e.Message); }
                catch (Exception e) { r = Skip(sys, SlowJobs, SlowMode, "failed: " + e.GetType().Name + ": " + e.Message); }
            }
            r = r with { Mode = SlowMode };
            ctx.Log($"slow callee {sys.Key}: {Describe(r)}" + (r.SlowCalls is { } sc ? $", slow calls {sc} (max {r.SlowMaxInFlight} at once)" : ""));
            ctx.Results.SlowCallee.Add(r);
            Report.Save(ctx);
        }
    }

    static async Task<DeliveryResult> RunOne(Ctx ctx, SystemDef sys, int jobs, string mode, int rep, SlowCallee? slow = null)
    {
        string tag = $"deliv-{jobs}-{mode}-{rep}" + (slow is null ? "" : "-slow");
        using var rs = RunningSystem.Start(ctx, sys, ctx.NewDataDir($"{sys.Key}-{tag}"), tag);
        if (mode == "spread" && !sys.IsKsana)
        {
            var caps = await rs.Api.GetString("/capabilities");
            if (caps is not null && caps.Replace(" ", "").Contains("\"spread\":false", StringComparison.Ordinal))
            {
                rs.Stop(5);
                return Skip(sys, jobs, mode, "n/a (no sub-second phase)");
            }
        }

        // The callee's log starts before the first job exists, so that every call of every job is
        // in it: a system that falls behind while the jobs are created and catches up later is
        // then still timed against the right slots (see LatenessAnalyzer).
        File.Delete(ctx.Callee.Cut(Path.Combine(ctx.RunDir, "pre-create.log")));
        long logStart = Ctx.NowMs();

        long originMs = Ctx.NowMs() / 1000 * 1000;
        var allPhases = new int[jobs];
        for (int i = 0; i < jobs; i++) allPhases[i] = Phase(i, jobs, mode);
        // With a slow callee, every SlowOneIn-th job calls it; the others are numbered 0.. in the
        // hook URLs, so that the callee log (and the analysis) hold the healthy jobs only.
        var hookIndex = new int[jobs];
        var healthyPhases = new List<int>(jobs);
        for (int i = 0; i < jobs; i++)
        {
            if (slow is not null && i % SlowOneIn == SlowOneIn / 2) { hookIndex[i] = -1; continue; }
            hookIndex[i] = healthyPhases.Count;
            healthyPhases.Add(allPhases[i]);
        }
        var phases = healthyPhases.ToArray();
        var sentAtAll = new long[jobs];
        var created = await rs.Api.CreateMany(jobs, i => hookIndex[i] < 0
                ? Ctx.FiringJobTo(i, slow!.Url(i), allPhases[i], originMs)
                : ctx.FiringJob(hookIndex[i], allPhases[i], originMs),
            Ctx.CreateConcurrency, DateTime.UtcNow + ctx.CreateTimeout, sentAtMs: sentAtAll);
        var sentAt = new long[phases.Length];
        for (int i = 0; i < jobs; i++) if (hookIndex[i] >= 0) sentAt[hookIndex[i]] = sentAtAll[i];
        if (created.Created < jobs)
        {
            var exited = rs.Child.HasExited ? $" (the process had exited, code {rs.Child.Process.ExitCode})" : "";
            rs.Stop(5);
            ctx.CreateLimit[sys.Key] = Math.Min(jobs, ctx.CreateLimit.GetValueOrDefault(sys.Key, int.MaxValue));
            throw new BenchException($"created {created.Created:#,0} of {jobs:#,0} jobs in {created.Seconds:0} s"
                + (created.Errors.Count > 0 ? ": " + created.Errors[0] : "") + exited);
        }

        long w0 = (Ctx.NowMs() / 1000 + 1 + ctx.WarmupSeconds) * 1000;
        long w1 = w0 + ctx.WindowSeconds * 1000L;
        int pid = rs.Pid;

        Ctx.SleepUntilMs(w0);
        slow?.ResetCounts();
        var allocated0 = sys.IsKsana ? await AllocatedBytes(rs.Api) : null;
        var (cpu, rssMax, hwm) = Watch(pid, w1);
        var allocated1 = sys.IsKsana ? await AllocatedBytes(rs.Api) : null;
        long? slowCalls = slow?.Requests;
        int? slowMax = slow?.MaxInFlight;

        // Calls for slots in the window may arrive up to a period (less the guard) after it, and
        // the analysis also looks at the calls of the slot after the window.
        Ctx.SleepUntilMs(w1 + 2000);
        var logPath = ctx.Callee.Cut(Path.Combine(ctx.RunDir, $"callee-{sys.Key}-{tag}.log"));
        var stop = rs.Stop(10);

        var lat = LatenessAnalyzer.Analyze(logPath, phases, 1000, w0, w1, logStart, sentAt);
        if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") File.Delete(logPath);
        var callbacks = lat.CallsInWindow + (slowCalls ?? 0);
        return new DeliveryResult(sys.Key, jobs, mode, "ok", 1, lat,
            lat.CallsInWindow > 0 ? cpu * 1e6 / callbacks : null,
            100 * cpu / ((w1 - w0) / 1000.0), rssMax, hwm, created.Seconds,
            stop.ExitCode, stop.Graceful, stop.Seconds)
        {
            WindowMs = [w0, w1, logStart], SlowCalls = slowCalls, SlowMaxInFlight = slowMax,
            AllocatedBytesPerCallback = allocated0 is { } a0 && allocated1 is { } a1 && lat.CallsInWindow > 0 ? (a1 - a0) / (double)callbacks : null,
        };
    }

    /// <summary>Ksana's dotnet_gc_allocated_bytes_total, read from /metrics; null when it cannot be read.</summary>
    static async Task<double?> AllocatedBytes(Api api)
    {
        var text = await api.GetString("/metrics");
        if (text is null) return null;
        foreach (var line in text.Split('\n'))
            if (line.StartsWith("dotnet_gc_allocated_bytes_total ", StringComparison.Ordinal)
                && double.TryParse(line.AsSpan("dotnet_gc_allocated_bytes_total ".Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var bytes))
                return bytes;
        return null;
    }

    /// <summary>The median of each figure over repetitions; losses and duplicates are summed so none hides.</summary>
    static DeliveryResult Median(List<DeliveryResult> runs)
    {
        var ok = runs.Where(r => r.Lateness is not null).ToList();
        if (ok.Count == 0) return runs[0];
        if (ok.Count == 1) return ok[0];
        double Med(Func<DeliveryResult, double> f)
        {
            var v = ok.Select(f).OrderBy(x => x).ToArray();
            return v[v.Length / 2];
        }
        int MedI(Func<Lateness, int> f) => (int)Med(r => f(r.Lateness!));
        var first = ok[0].Lateness!;
        var lat = first with
        {
            CallsInWindow = (long)Med(r => r.Lateness!.CallsInWindow),
            CallbacksPerSecond = Med(r => r.Lateness!.CallbacksPerSecond),
            P50Ms = MedI(l => l.P50Ms), P99Ms = MedI(l => l.P99Ms), P999Ms = MedI(l => l.P999Ms), MaxMs = MedI(l => l.MaxMs),
            PctWithin50Ms = Med(r => r.Lateness!.PctWithin50Ms),
            SlotsExpected = ok.Sum(r => r.Lateness!.SlotsExpected),
            Lost = ok.Sum(r => r.Lateness!.Lost),
            DuplicateSlots = ok.Sum(r => r.Lateness!.DuplicateSlots),
            DuplicateCalls = ok.Sum(r => r.Lateness!.DuplicateCalls),
            Early = ok.Sum(r => r.Lateness!.Early),
            Stray = ok.Sum(r => r.Lateness!.Stray),
        };
        return ok[0] with
        {
            Runs = ok.Count, Lateness = lat,
            CpuUsPerCallback = Med(r => r.CpuUsPerCallback ?? 0), CpuPercent = Med(r => r.CpuPercent ?? 0),
            RssKb = (long)Med(r => r.RssKb ?? 0), HwmKb = (long)Med(r => r.HwmKb ?? 0),
            CreateSeconds = Med(r => r.CreateSeconds ?? 0),
            AllocatedBytesPerCallback = ok.Any(r => r.AllocatedBytesPerCallback is not null) ? Med(r => r.AllocatedBytesPerCallback ?? 0) : null,
        };
    }
}
