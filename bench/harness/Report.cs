using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace KsanaBench;

/// <summary>Writes latest.json (everything) and latest.md (the tables) from the results so far.</summary>
static class Report
{
    static readonly JsonSerializerOptions JsonOpts = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Save(Ctx ctx)
    {
        Directory.CreateDirectory(ctx.ResultsDir);
        ctx.Results.Meta["elapsed_seconds"] = Math.Round((DateTime.UtcNow - ctx.StartedUtc).TotalSeconds, 1);
        var json = JsonSerializer.Serialize(ctx.Results, JsonOpts);
        WriteAtomically(Path.Combine(ctx.ResultsDir, "latest.json"), json + "\n");
        WriteAtomically(Path.Combine(ctx.ResultsDir, "latest.md"), Markdown(ctx));
    }

    static void WriteAtomically(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }

    // ---- formatting -------------------------------------------------------------------------

    static string N0(double v) => v.ToString("#,0", Inv);
    static string F(double v, int digits) => v.ToString("#,0." + new string('0', digits), Inv);
    static string Mb(long kb) => F(kb / 1024.0, 1);
    static string Ms(double ms) => ms < 10 ? F(ms, 2) : ms < 100 ? F(ms, 1) : N0(ms);

    /// <summary>
    /// "×r" where r &gt; 1 means Ksana is ahead: peer/Ksana for costs, Ksana/peer for throughput.
    /// A zero for Ksana is raised to the measuring resolution so the ratio stays finite ("≥").
    /// </summary>
    static string Ratio(double? ksana, double? peer, bool higherIsBetter, double resolution = 0)
    {
        if (ksana is not { } k || peer is not { } p) return "";
        bool floored = false;
        if (higherIsBetter)
        {
            if (p <= 0) return k > 0 ? " (∞×)" : "";
            if (k <= 0) return " (0×)";
            return $" ({F(k / p, 2)}×)";
        }
        if (k < resolution) { k = resolution; floored = true; }
        if (p < resolution) p = resolution;
        if (k <= 0) return p <= 0 ? " (1.00×)" : " (∞×)";
        return $" ({(floored ? "≥" : "")}{F(p / k, 2)}×)";
    }

    static string Short(Ctx ctx, string key) => ctx.Systems.FirstOrDefault(s => s.Key == key)?.ShortLabel ?? key;

    /// <summary>More than 1 % of the slots lost or doubled: lateness can no longer be measured fully.</summary>
    static bool Behind(Lateness l) => l.Lost > l.SlotsExpected / 100 || l.DuplicateSlots > l.SlotsExpected / 100;

    static string Aim(bool? met) => met switch { true => "✅", false => "❌", null => "" };

    // ---- markdown ---------------------------------------------------------------------------

    static string Markdown(Ctx ctx)
    {
        var r = ctx.Results;
        var md = new StringBuilder();
        md.AppendLine("# Ksana benchmark results");
        md.AppendLine();
        foreach (var (k, v) in r.Meta) md.AppendLine($"- {k.Replace('_', ' ')}: {v}");
        md.AppendLine();
        md.AppendLine("How it is measured: bench/README.md. Lateness = arrival at the nginx callee − the job's nominal due time, "
            + "1 ms resolution. In side-by-side tables a ratio in brackets is peer/Ksana for costs and lateness and "
            + "Ksana/peer for throughput, so above 1 means Ksana is ahead (a Ksana figure of 0 ms is taken as 1 ms, shown “≥”). "
            + "MB = 2^20 bytes.");
        md.AppendLine();
        Issue9Section(ctx, md);
        KsanaSection(ctx, md);
        SideBySide(ctx, md);
        if (r.Notes.Count > 0)
        {
            md.AppendLine("## Notes");
            md.AppendLine();
            foreach (var n in r.Notes) md.AppendLine("- " + n);
            md.AppendLine();
        }
        return md.ToString();
    }

    static void KsanaSection(Ctx ctx, StringBuilder md)
    {
        var r = ctx.Results;
        md.AppendLine("## Ksana against the aims of issues 3 and 4");
        md.AppendLine();
        md.AppendLine("Ksana acknowledges every create after fsync: yes.");
        md.AppendLine();
        md.AppendLine("| figure | measured | aim | |");
        md.AppendLine("|---|---|---|---|");
        void Row(string fig, string measured, string aim = "", bool? met = null) =>
            md.AppendLine($"| {fig} | {measured} | {aim} | {Aim(met)} |");

        foreach (var c in Creates.Clients.Where(c => c != 256))
        {
            var x = r.Creates.FirstOrDefault(e => e.System == "ksana" && e.Clients == c);
            if (x is null) continue;
            if (x.OkPerSecond is not { } ps) { Row($"durable creates/s, {c} client{(c > 1 ? "s" : "")}", x.Status); continue; }
            Row($"durable creates/s, {c} client{(c > 1 ? "s" : "")}", N0(ps) + (x.Non2xx > 0 ? $" ({x.Non2xx} non-2xx)" : ""),
                c == 64 ? "≥ 20,000" : "", c == 64 ? ps >= 20_000 : null);
            if (c == 1 && x.P50Ms is { } p50) Row("create latency p50, 1 client", Ms(p50) + " ms", "≤ 0.4 ms", p50 <= 0.4);
        }
        var d = r.Durability.FirstOrDefault(e => e.System == "ksana");
        if (d is not null)
            Row("kill -9 during concurrent creates: acknowledged jobs lost", d.Status == "ok" || d.Lost > 0
                ? $"{d.Lost} of {N0(d.Acknowledged)} (restart {Ms((d.RestartSeconds ?? 0) * 1000)} ms)" : d.Status, "0", d.Status == "ok" ? true : d.Lost > 0 ? false : null);

        var res = r.Resources.FirstOrDefault(e => e.System == "ksana");
        if (res is not null)
        {
            foreach (var s in res.Startup)
            {
                var (tAim, tMet) = s.Jobs switch { 0 => ("≤ 60 ms", (bool?)(s.ReadyMs <= 60)), 100_000 => ("≤ 250 ms", s.ReadyMs <= 250), _ => ("", null) };
                var (mAim, mMet) = s.Jobs switch { 0 => ("≤ 25 MB", (bool?)(s.RssAfter1sKb <= 25 * 1024)), 100_000 => ("≤ 64 MB", s.RssAfter1sKb <= 64 * 1024), _ => ("", null) };
                Row($"start-up to a served /health, {N0(s.Jobs)} jobs in the journal", $"{Ms(s.ReadyMs)} ms (runs: {string.Join(", ", s.SamplesMs.Select(v => Ms(v)))})", tAim, tMet);
                Row($"resident memory after start, {N0(s.Jobs)} jobs", $"{Mb(s.RssAfter1sKb)} MB (at ready {Mb(s.RssAtReadyKb)} MB)", mAim, mMet);
            }
            if (res.IdleCpuPercent is { } idle) Row("idle CPU, 0 jobs", F(idle, 2) + " %", "near zero (≤ 0.5 %)", idle <= 0.5);
            if (res.JournalBytes100k is { } jb) Row("journal size with 100,000 jobs", Mb(jb / 1024) + " MB");
            if (res.CronStartup is { } cs && res.Startup.FirstOrDefault(p => p.Jobs == 100_000) is { } es)
            {
                Row("start-up to a served /health, 100,000 cron jobs", $"{Ms(cs.ReadyMs)} ms, {F(cs.ReadyMs / es.ReadyMs, 2)}× every (runs: {string.Join(", ", cs.SamplesMs.Select(v => Ms(v)))})",
                    "≤ 1.5× every", cs.ReadyMs <= 1.5 * es.ReadyMs);
                Row("resident memory after start, 100,000 cron jobs", $"{Mb(cs.RssAfter1sKb)} MB");
            }
            if (res.Create100kCronSeconds is { } cc && res.Create100kSeconds is { } ec)
                Row("creating 100,000 jobs through the API, cron / every", $"{F(cc, 1)} s / {F(ec, 1)} s");
            foreach (var p in res.Problems) Row("problem", p, "", false);
            if (res.Status != "ok" && res.Startup.Count == 0) Row("start-up and memory", res.Status, "", false);
        }

        foreach (var (jobs, mode) in Delivery.Cases)
        {
            var x = r.Delivery.FirstOrDefault(e => e.System == "ksana" && e.Jobs == jobs && e.Mode == mode);
            if (x is null) continue;
            string name = $"{N0(jobs)} jobs {mode}";
            if (x.Lateness is not { } l) { Row(name, x.Status, "", false); continue; }
            if (jobs <= 10_000)
            {
                Row($"{name}: callbacks/s", $"{N0(l.CallbacksPerSecond)} of {N0(jobs)}");
                var (aim, met) = (jobs, mode) switch
                {
                    (10_000, "spread") => ("p50 ≤ 2 ms, p99 ≤ 10 ms", (bool?)(l.P50Ms <= 2 && l.P99Ms <= 10)),
                    (10_000, "aligned") => ("p99 ≤ 150 ms", l.P99Ms <= 150),
                    _ => ("", null),
                };
                Row($"{name}: lateness p50 / p99 / max", $"{l.P50Ms} / {l.P99Ms} / {l.MaxMs} ms"
                    + (Behind(l) ? " † (fell behind: lateness understated, see lost)" : ""), aim, met);
            }
            else if (mode == "spread")
                Row($"{name}: sustained callbacks/s", N0(l.CallbacksPerSecond), "≥ 40,000", l.CallbacksPerSecond >= 40_000);
            else
                Row($"{name}: callbacks/s, lateness p50 / p99 / max", $"{N0(l.CallbacksPerSecond)}; {l.P50Ms} / {l.P99Ms} / {l.MaxMs} ms"
                    + (Behind(l) ? " † (fell behind: lateness understated, see lost)" : ""));
            Row($"{name}: lost / duplicate slots", $"{N0(l.Lost)} / {N0(l.DuplicateSlots)} of {N0(l.SlotsExpected)}", "0 / 0", l.Lost == 0 && l.DuplicateSlots == 0);
            if (jobs == 10_000 && mode == "spread")
            {
                Row($"{name}: CPU per callback (incl. the HTTP call)", F(x.CpuUsPerCallback ?? 0, 1) + " µs", "≤ 25 µs", x.CpuUsPerCallback <= 25);
                Row($"{name}: resident memory while firing 10,000/s", $"{Mb(x.RssKb ?? 0)} MB (peak {Mb(x.HwmKb ?? 0)} MB)", "≤ 60 MB", x.RssKb <= 60 * 1024);
            }
            else Row($"{name}: CPU per callback, CPU, RSS", $"{F(x.CpuUsPerCallback ?? 0, 1)} µs, {F(x.CpuPercent ?? 0, 0)} %, {Mb(x.RssKb ?? 0)} MB");
            if (x.AllocatedBytesPerCallback is { } allocated)
                Row($"{name}: allocated per callback (the runtime's count, which noise does not move)", $"{N0(allocated)} B");
            if (x.Graceful == false || x.ExitCode is not (0 or null))
                Row($"{name}: SIGTERM after the run", x.Graceful == false ? "did not exit within 10 s (killed)" : $"exit code {x.ExitCode}", "exit 0", false);
        }
        md.AppendLine();
    }

    static void SideBySide(Ctx ctx, StringBuilder md)
    {
        var r = ctx.Results;
        var all = ctx.Systems;
        if (all.Count < 2) return;
        md.AppendLine("## Side by side (issues 5 and 9)");
        md.AppendLine();
        md.AppendLine("Systems: " + string.Join("; ", r.Systems.Select(s => $"**{s.Label}**")) + ". "
            + "Every peer is capped at 64 concurrent outbound requests, retries off; Ksana runs with WORKERS=64. "
            + "cron and systemd timers are context only: see bench/peers/cron/NOTES.md.");
        md.AppendLine();

        // Delivery
        foreach (var (jobs, mode) in Delivery.Cases)
        {
            var rows = all.Select(s => r.Delivery.FirstOrDefault(e => e.System == s.Key && e.Jobs == jobs && e.Mode == mode)).ToList();
            if (rows.All(x => x is null)) continue;
            md.AppendLine($"### Delivery: {N0(jobs)} jobs every 1 s, {mode}");
            md.AppendLine();
            Header(md, all);
            AckRow(md, all);
            var k = r.Delivery.FirstOrDefault(e => e.System == "ksana" && e.Jobs == jobs && e.Mode == mode);
            bool first = true, dagger = false;
            // Lateness is attributed within one period; when a system falls behind by more than
            // that, calls land on later slots, so its lateness is understated and its losses tell.
            void DRow(string name, Func<DeliveryResult, double?> f, Func<double, string> fmt, bool higher, double res = 0, bool lateness = false)
            {
                var cells = rows.Select((x, i) =>
                {
                    if (x is null) return "—";
                    if (x.Lateness is not { } l) return first ? x.Status : "—";
                    if (lateness && l.Matched == 0) return "no calls";
                    var v = f(x);
                    if (v is null) return "—";
                    var mark = lateness && Behind(l) ? "†" : "";
                    if (mark != "") dagger = true;
                    bool ratio = !all[i].IsKsana && k?.Lateness is { } kl && !(lateness && (kl.Matched == 0 || Behind(kl) || Behind(l)));
                    return fmt(v.Value) + mark + (ratio ? Ratio(f(k!), v, higher, res) : "");
                });
                md.AppendLine($"| {name} | {string.Join(" | ", cells)} |");
                first = false;
            }
            DRow("callbacks/s", x => x.Lateness!.CallbacksPerSecond, N0, true);
            DRow("lateness p50 (ms)", x => x.Lateness!.P50Ms, v => N0(v), false, 1, lateness: true);
            DRow("lateness p99 (ms)", x => x.Lateness!.P99Ms, v => N0(v), false, 1, lateness: true);
            DRow("lateness p99.9 (ms)", x => x.Lateness!.P999Ms, v => N0(v), false, 1, lateness: true);
            DRow("lateness max (ms)", x => x.Lateness!.MaxMs, v => N0(v), false, 1, lateness: true);
            DRow("within 50 ms (%)", x => x.Lateness!.PctWithin50Ms, v => F(v, 2), true, lateness: true);
            md.AppendLine("| lost / duplicate slots | " + string.Join(" | ", rows.Select(x => x?.Lateness is { } l
                ? $"{N0(l.Lost)} / {N0(l.DuplicateSlots)} of {N0(l.SlotsExpected)}" : "—")) + " |");
            DRow("CPU per callback (µs)", x => x.CpuUsPerCallback, v => F(v, 1), false);
            DRow("resident memory (MB)", x => x.RssKb / 1024.0, v => F(v, 1), false);
            md.AppendLine();
            if (dagger)
            {
                md.AppendLine("† More than 1 % of the slots were lost or doubled: the system fell behind or skipped slots, so its "
                    + "lateness is understated (a call can only be timed against a slot it could belong to; see bench/README.md) "
                    + "and no ratio is given.");
                md.AppendLine();
            }
            if (r.Floor.FirstOrDefault(e => e.Jobs == jobs && e.Mode == mode) is { } fl)
            {
                md.AppendLine("The machine's floor (bench/floor: a C program making the same calls to the same callee over 64 connections, and nothing else): "
                    + (fl.Lateness is { } l
                        ? $"{N0(l.CallbacksPerSecond)} calls/s; lateness p50 / p99 / max {N0(l.P50Ms)} / {N0(l.P99Ms)} / {N0(l.MaxMs)} ms; "
                          + $"{N0(l.Lost)} lost; {F(fl.CpuUsPerCallback ?? 0, 1)} µs CPU per call."
                        : fl.Status + "."));
                md.AppendLine();
            }
        }

        SlowCalleeTable(ctx, md);

        // Create throughput
        var api = ctx.ApiSystems.ToList();
        if (r.Creates.Count > 0)
        {
            md.AppendLine("### Create throughput (POST /jobs through wrk; Ksana and the durable peers acknowledge after fsync, the in-memory peers keep jobs in memory; durable peers run at 1 and 64 clients)");
            md.AppendLine();
            Header(md, api, shortLabels: true);
            AckRow(md, api);
            foreach (var c in Creates.Clients)
            {
                var rows = api.Select(s => r.Creates.FirstOrDefault(e => e.System == s.Key && e.Clients == c)).ToList();
                if (rows.All(x => x is null)) continue;
                var k = r.Creates.FirstOrDefault(e => e.System == "ksana" && e.Clients == c);
                void CRow(string name, Func<CreateResult, double?> f, Func<double, string> fmt, bool higher) =>
                    md.AppendLine($"| {name} | " + string.Join(" | ", rows.Select((x, i) =>
                        x is null ? "—" : f(x) is not { } v ? x.Status
                        : fmt(v) + (api[i].IsKsana ? "" : Ratio(k is null ? null : f(k), v, higher)))) + " |");
                CRow($"creates/s, {c} client{(c > 1 ? "s" : "")}", x => x.OkPerSecond, N0, true);
                CRow($"latency p50 (ms), {c}", x => x.P50Ms, Ms, false);
                CRow($"latency p99 (ms), {c}", x => x.P99Ms, Ms, false);
            }
            md.AppendLine("| kill -9 during creates | " + string.Join(" | ", api.Select(s =>
            {
                var d = r.Durability.FirstOrDefault(e => e.System == s.Key);
                return d is null ? "—" : d.Status == "ok" ? $"0 of {N0(d.Acknowledged)} acknowledged lost"
                    : d.Lost > 0 ? $"**{d.Lost} of {N0(d.Acknowledged)} acknowledged lost**" : d.Status;
            })) + " |");
            md.AppendLine();
        }

        // Start-up, memory, size
        if (r.Resources.Count > 0 || r.Systems.Count > 0)
        {
            md.AppendLine("### Start-up, memory and size");
            md.AppendLine();
            Header(md, api, shortLabels: true);
            AckRow(md, api);
            var rows = api.Select(s => r.Resources.FirstOrDefault(e => e.System == s.Key)).ToList();
            var k = r.Resources.FirstOrDefault(e => e.System == "ksana");
            void RRow(string name, Func<ResourceResult, double?> f, Func<double, string> fmt, bool higher, string naText, double res = 0) =>
                md.AppendLine($"| {name} | " + string.Join(" | ", rows.Select((x, i) =>
                {
                    if (x is null) return "—";
                    var v = f(x);
                    if (v is null) return x.Status != "ok" && x.Startup.Count == 0 ? x.Status : naText;
                    var kv = k is null ? null : f(k);
                    return fmt(v.Value) + (api[i].IsKsana ? "" : Ratio(kv, v, higher, res));
                })) + " |");
            double? St(ResourceResult x, int jobs) => x.Startup.FirstOrDefault(s => s.Jobs == jobs)?.ReadyMs;
            double? SRss(ResourceResult x, int jobs) => x.Startup.FirstOrDefault(s => s.Jobs == jobs)?.RssAfter1sKb / 1024.0;
            RRow("start-up to ready, empty (ms)", x => St(x, 0), Ms, false, "—");
            RRow("start-up, 10,000 jobs persisted (ms)", x => St(x, 10_000), Ms, false, "n/a (in-memory)");
            RRow("start-up, 100,000 jobs persisted (ms)", x => St(x, 100_000), Ms, false, "n/a (in-memory)");
            RRow("resident memory after start, empty (MB)", x => SRss(x, 0), v => F(v, 1), false, "—");
            RRow("resident memory after restart, 100,000 jobs (MB)", x => SRss(x, 100_000), v => F(v, 1), false, "n/a (in-memory)");
            // One clock tick over the idle window is the resolution of the idle CPU figure.
            RRow("idle CPU, no jobs (%)", x => x.IdleCpuPercent, v => F(v, 2), false, "—", 100.0 / (Native.ClockTicksPerSecond * ctx.IdleSeconds));
            RRow("resident memory idle (MB)", x => x.IdleRssKb / 1024.0, v => F(v, 1), false, "—");
            RRow("resident memory, 10,000 jobs created (MB)", x => x.Rss10kKb / 1024.0, v => F(v, 1), false, "—");
            RRow("resident memory, 100,000 jobs created (MB)", x => x.Rss100kKb / 1024.0, v => F(v, 1), false, "—");
            RRow("peak resident memory, 100,000 jobs (MB)", x => x.Hwm100kKb / 1024.0, v => F(v, 1), false, "—");
            var ks = r.Systems.FirstOrDefault(s => s.Key == "ksana");
            md.AppendLine("| size to deploy (MB) | " + string.Join(" | ", api.Select(s =>
            {
                var si = r.Systems.FirstOrDefault(e => e.Key == s.Key);
                if (si is null || si.DeployBytes <= 0) return "—";
                return F(si.DeployBytes / 1048576.0, 1) + (s.IsKsana || ks is null ? "" : Ratio(ks.DeployBytes, si.DeployBytes, false));
            })) + " |");
            md.AppendLine();
            md.AppendLine("Size to deploy: " + string.Join("; ", r.Systems.Where(s => s.Key != "hangfire-1s").Select(s => $"{Short(ctx, s.Key)}: {s.DeployWhat}")) + ".");
            md.AppendLine();
        }
    }

    static void SlowCalleeTable(Ctx ctx, StringBuilder md)
    {
        var r = ctx.Results;
        if (r.SlowCallee.Count == 0) return;
        var all = ctx.Systems.Where(s => s.Key != "hangfire-1s").ToList();
        var rows = all.Select(s => r.SlowCallee.FirstOrDefault(e => e.System == s.Key)).ToList();
        var k = r.SlowCallee.FirstOrDefault(e => e.System == "ksana");
        md.AppendLine($"### Slow callee: {N0(Delivery.SlowJobs)} jobs every 1 s, spread, every {Delivery.SlowOneIn}th calling a callee that answers after {SlowCallee.DelayMs / 1000} s");
        md.AppendLine();
        md.AppendLine($"Lateness, losses and callbacks/s are those of the {N0(Delivery.SlowJobs - Delivery.SlowJobs / Delivery.SlowOneIn)} healthy jobs (nginx); "
            + "the slow jobs call a listener in the harness that logs nothing. CPU per callback counts the slow calls too. See bench/README.md for the choice of this case.");
        md.AppendLine();
        Header(md, all);
        AckRow(md, all);
        bool first = true;
        void SRow(string name, Func<DeliveryResult, double?> f, Func<double, string> fmt, bool higher, double res = 0, bool lateness = false)
        {
            md.AppendLine($"| {name} | " + string.Join(" | ", rows.Select((x, i) =>
            {
                if (x is null) return "—";
                if (x.Lateness is not { } l) return first ? x.Status : "—";
                if (lateness && l.Matched == 0) return "no calls";
                if (f(x) is not { } v) return "—";
                var mark = lateness && Behind(l) ? "†" : "";
                bool ratio = !all[i].IsKsana && k?.Lateness is { } kl && !(lateness && (kl.Matched == 0 || Behind(kl) || Behind(l)));
                return fmt(v) + mark + (ratio ? Ratio(f(k!), v, higher, res) : "");
            })) + " |");
            first = false;
        }
        SRow("healthy callbacks/s", x => x.Lateness!.CallbacksPerSecond, N0, true);
        SRow("healthy lateness p50 (ms)", x => x.Lateness!.P50Ms, v => N0(v), false, 1, lateness: true);
        SRow("healthy lateness p99 (ms)", x => x.Lateness!.P99Ms, v => N0(v), false, 1, lateness: true);
        SRow("healthy lateness max (ms)", x => x.Lateness!.MaxMs, v => N0(v), false, 1, lateness: true);
        md.AppendLine("| healthy lost / duplicate slots | " + string.Join(" | ", rows.Select(x => x?.Lateness is { } l
            ? $"{N0(l.Lost)} / {N0(l.DuplicateSlots)} of {N0(l.SlotsExpected)}" : "—")) + " |");
        md.AppendLine("| slow calls/s received (most at once) | " + string.Join(" | ", rows.Select(x => x?.Lateness is not null && x.SlowCalls is { } sc
            ? $"{F(sc / (double)ctx.WindowSeconds, 1)} ({x.SlowMaxInFlight})" : "—")) + " |");
        SRow("CPU per callback (µs)", x => x.CpuUsPerCallback, v => F(v, 1), false);
        SRow("resident memory (MB)", x => x.RssKb / 1024.0, v => F(v, 1), false);
        md.AppendLine();
    }

    // ---- issue 9 ----------------------------------------------------------------------------

    static void Issue9Section(Ctx ctx, StringBuilder md)
    {
        var r = ctx.Results;
        md.AppendLine("## Against the aims of issue 9");
        md.AppendLine();
        md.AppendLine("Quartz.NET = the in-memory peer (RAMJobStore). “Every peer” = every peer measured in that case. "
            + "A comparison whose other side was not measured is left unmarked.");
        md.AppendLine();
        md.AppendLine("| figure | Ksana | aim | |");
        md.AppendLine("|---|---|---|---|");
        void Row(string fig, string measured, string aim, bool? met) => md.AppendLine($"| {fig} | {measured} | {aim} | {Aim(met)} |");
        DeliveryResult? D(string sys, int jobs, string mode) => r.Delivery.FirstOrDefault(e => e.System == sys && e.Jobs == jobs && e.Mode == mode);
        // The machine's floor (bench/floor): what a program making only these calls got, for context beside the figure.
        DeliveryResult? FloorOf(int jobs, string mode) => r.Floor.FirstOrDefault(e => e.Jobs == jobs && e.Mode == mode && e.Lateness is not null);
        string NotMeasured(DeliveryResult? x) => x?.Status ?? "not measured";
        // Not run (scenario not selected, time budget) leaves the aim unmarked; a run that failed misses it.
        bool? Failed(DeliveryResult? x) => x is null || x.Status.StartsWith("skipped", StringComparison.Ordinal) ? null : false;

        // 10k aligned lateness
        {
            var k = D("ksana", 10_000, "aligned"); var q = D("quartz", 10_000, "aligned");
            const string aim = "p99 ≤ 150 ms and ≤ 0.6× Quartz.NET's";
            if (k?.Lateness is { } kl)
            {
                double? ratio = q?.Lateness is { } ql ? kl.P99Ms / (double)Math.Max(1, ql.P99Ms) : null;
                Row("10,000 jobs aligned: lateness p99", $"{N0(kl.P99Ms)} ms" + (Behind(kl) ? " †" : "")
                    + (ratio is { } x ? $" ({F(x, 2)}× Quartz.NET's {N0(q!.Lateness!.P99Ms)} ms)" : " (Quartz.NET not measured)")
                    + (FloorOf(10_000, "aligned") is { Lateness: { } fl } ? $"; the machine's floor: {N0(fl.P99Ms)} ms" : ""),
                    aim, kl.P99Ms > 150 || Behind(kl) ? false : ratio is { } x2 ? x2 <= 0.6 : null);
            }
            else Row("10,000 jobs aligned: lateness p99", NotMeasured(k), aim, Failed(k));
        }
        // 10k spread lateness
        {
            var k = D("ksana", 10_000, "spread");
            if (k?.Lateness is { } kl)
                Row("10,000 jobs spread: lateness p50 / p99", $"{kl.P50Ms} / {kl.P99Ms} ms" + (Behind(kl) ? " †" : ""), "≤ 2 / ≤ 10 ms", kl.P50Ms <= 2 && kl.P99Ms <= 10 && !Behind(kl));
            else Row("10,000 jobs spread: lateness p50 / p99", NotMeasured(k), "≤ 2 / ≤ 10 ms", Failed(k));
        }
        // CPU per callback
        foreach (var mode in new[] { "spread", "aligned" })
        {
            var k = D("ksana", 10_000, mode);
            var peers = r.Delivery.Where(e => e.System != "ksana" && e.Jobs == 10_000 && e.Mode == mode && e.CpuUsPerCallback is not null).ToList();
            const string aim = "≤ 25 µs and below every peer";
            if (k?.CpuUsPerCallback is { } kc)
            {
                var best = peers.OrderBy(p => p.CpuUsPerCallback).FirstOrDefault();
                Row($"10,000 jobs {mode}: CPU per callback", $"{F(kc, 1)} µs" + (best is null ? " (no peer measured)" : $" (lowest peer: {Short(ctx, best.System)} {F(best.CpuUsPerCallback!.Value, 1)} µs)")
                    + (FloorOf(10_000, mode) is { CpuUsPerCallback: { } fc } ? $"; the machine's floor: {F(fc, 1)} µs" : ""),
                    aim, kc <= 25 && peers.All(p => kc < p.CpuUsPerCallback));
            }
            else Row($"10,000 jobs {mode}: CPU per callback", NotMeasured(k), aim, Failed(k));
        }
        // 50k: no loss, throughput against Quartz.NET
        foreach (var mode in new[] { "spread", "aligned" })
        {
            var k = D("ksana", 50_000, mode); var q = D("quartz", 50_000, mode);
            const string aim = "0 lost, 0 duplicate, ≥ 1.0× Quartz.NET's callbacks/s";
            if (k?.Lateness is { } kl)
            {
                double? ratio = q?.Lateness is { } ql && ql.CallbacksPerSecond > 0 ? kl.CallbacksPerSecond / ql.CallbacksPerSecond : null;
                bool clean = kl.Lost == 0 && kl.DuplicateSlots == 0;
                Row($"50,000 jobs every 1 s {mode}", $"{N0(kl.Lost)} lost, {N0(kl.DuplicateSlots)} duplicate; {N0(kl.CallbacksPerSecond)} callbacks/s"
                    + (ratio is { } x ? $" ({F(x, 2)}× Quartz.NET's {N0(q!.Lateness!.CallbacksPerSecond)})" : " (Quartz.NET not measured)")
                    + (FloorOf(50_000, mode) is { Lateness: { } fl } ? $"; the machine's floor: {N0(fl.CallbacksPerSecond)}/s, {N0(fl.Lost)} lost" : ""),
                    aim, !clean ? false : ratio is { } x2 ? x2 >= 1.0 : null);
            }
            else Row($"50,000 jobs every 1 s {mode}", NotMeasured(k), aim, Failed(k));
        }
        // Memory while firing
        {
            void MemRow(string fig, IEnumerable<(int Jobs, string Mode)> cases)
            {
                var ks = cases.Select(c => D("ksana", c.Jobs, c.Mode)).Where(x => x?.RssKb is not null).ToList();
                var qs = cases.Select(c => D("quartz", c.Jobs, c.Mode)).Where(x => x?.RssKb is not null).ToList();
                const string aim = "≤ 60 MB and ≤ 0.5× Quartz.NET's";
                if (ks.Count == 0) { Row(fig, "not measured", aim, null); return; }
                long k = ks.Max(x => x!.RssKb!.Value);
                long? q = qs.Count > 0 ? qs.Max(x => x!.RssKb!.Value) : null;
                Row(fig, $"{Mb(k)} MB" + (q is { } qq ? $" ({F(k / (double)qq, 2)}× Quartz.NET's {Mb(qq)} MB)" : " (Quartz.NET not measured)"),
                    aim, k > 60 * 1024 ? false : q is { } q2 ? k <= 0.5 * q2 : null);
            }
            MemRow("resident memory while firing 10,000/s (10,000 spread)", [(10_000, "spread")]);
            MemRow("resident memory with 50,000 jobs firing (larger of spread and aligned)", [(50_000, "spread"), (50_000, "aligned")]);
        }
        // Start-up with 100k jobs
        {
            var s = r.Resources.FirstOrDefault(e => e.System == "ksana")?.Startup.FirstOrDefault(p => p.Jobs == 100_000);
            if (s is not null)
            {
                Row("start-up to ready, 100,000 jobs in the journal", $"{Ms(s.ReadyMs)} ms", "≤ 250 ms", s.ReadyMs <= 250);
                Row("resident memory then (1 s after ready)", $"{Mb(s.RssAfter1sKb)} MB", "≤ 64 MB", s.RssAfter1sKb <= 64 * 1024);
            }
            else Row("start-up to ready, 100,000 jobs in the journal", "not measured", "≤ 250 ms, then ≤ 64 MB", null);
        }
        // Durable creates at 64 clients
        {
            var k = r.Creates.FirstOrDefault(e => e.System == "ksana" && e.Clients == 64)?.OkPerSecond;
            var q = r.Creates.FirstOrDefault(e => e.System == "quartz" && e.Clients == 64)?.OkPerSecond;
            var durable = ctx.Systems.Where(s => s.DurablePeer).Select(s => r.Creates.FirstOrDefault(e => e.System == s.Key && e.Clients == 64))
                .Where(e => e?.OkPerSecond is not null).Select(e => e!).ToList();
            const string aim = "≥ 1.0× Quartz.NET in memory and ≥ 3× every durable peer";
            if (k is { } kv)
            {
                var best = durable.OrderByDescending(e => e.OkPerSecond).FirstOrDefault();
                var parts = new List<string> { $"{N0(kv)}/s" };
                if (q is { } qv) parts.Add($"{F(kv / qv, 2)}× Quartz.NET in memory ({N0(qv)}/s)");
                if (best is not null) parts.Add($"{F(kv / best.OkPerSecond!.Value, 1)}× the fastest durable peer ({Short(ctx, best.System)}, {N0(best.OkPerSecond!.Value)}/s)");
                bool? met = q is null || durable.Count == 0 ? null : kv >= q.Value && durable.All(e => kv >= 3 * e.OkPerSecond!.Value);
                if (q is { } q3 && kv < q3) met = false;
                Row("durable creates/s, 64 clients", string.Join("; ", parts), aim, met);
            }
            else Row("durable creates/s, 64 clients", "not measured", aim, null);
        }
        // Slow callee
        {
            var k = r.SlowCallee.FirstOrDefault(e => e.System == "ksana");
            var fig = $"slow callee ({Delivery.SlowJobs / Delivery.SlowOneIn} of {N0(Delivery.SlowJobs)} jobs take 2 s): healthy lateness p99";
            if (k?.Lateness is { } kl)
                Row(fig, $"{kl.P99Ms} ms (p50 {kl.P50Ms}, max {kl.MaxMs}; lost {N0(kl.Lost)})" + (Behind(kl) ? " †" : ""), "≤ 20 ms", kl.P99Ms <= 20 && !Behind(kl));
            else Row(fig, NotMeasured(k), "≤ 20 ms", Failed(k));
        }
        // kill -9
        {
            var d = r.Durability.FirstOrDefault(e => e.System == "ksana");
            Row("kill -9 during creates: acknowledged jobs lost", d is null ? "not measured" : d.Status == "ok" || d.Lost > 0 ? $"{d.Lost} of {N0(d.Acknowledged)}" : d.Status,
                "0", d is null ? null : d.Status == "ok" ? true : d.Lost > 0 ? false : null);
            var f = r.FiringKill.FirstOrDefault(e => e.System == "ksana");
            Row("kill -9 during firing: runs left unaccounted after restart", f is null ? "not measured"
                : f.RunsBeforeKill == 0 ? f.Status
                : $"{f.LeftRunning} left running, {f.CallsWithoutRun} callee calls without a run, of {N0(f.RunsBeforeKill)} runs scheduled before the kill "
                  + $"({N0(f.Succeeded)} succeeded, {N0(f.Failed)} failed of which {N0(f.Interrupted)} interrupted, {N0(f.Skipped)} skipped; restart {Ms((f.RestartSeconds ?? 0) * 1000)} ms)",
                "0 (every started run succeeded or failed)", f is null ? null : f.Status == "ok" ? true : f.Status.StartsWith("skipped", StringComparison.Ordinal) ? null : false);
        }
        md.AppendLine();
    }

    /// <summary>The row every side-by-side table starts with: does the system answer a create only once it is on disk?</summary>
    static void AckRow(StringBuilder md, IReadOnlyList<SystemDef> systems) =>
        md.AppendLine("| acknowledged after fsync | " + string.Join(" | ", systems.Select(s => s.AckAfterFsync)) + " |");

    static void Header(StringBuilder md, IReadOnlyList<SystemDef> systems, bool shortLabels = false)
    {
        md.AppendLine("| | " + string.Join(" | ", systems.Select(s => shortLabels ? s.ShortLabel : s.Label)) + " |");
        md.AppendLine("|---|" + string.Concat(systems.Select(_ => "---|")));
    }
}
