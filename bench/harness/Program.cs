// Ksana's benchmark harness: drives Ksana and the peers of bench/peers/ through every scenario
// and writes bench/results/latest.{md,json}. bench/run.sh installs the tools, starts the nginx
// callee and calls `KsanaBench suite ...`; `KsanaBench analyze ...` re-reads a callee log.
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using KsanaBench;

var opts = ParseArgs(args);
string command = args.Length > 0 ? args[0] : "help";
switch (command)
{
    case "suite": return await Suite(opts);
    case "analyze": return Analyze(opts);
    default:
        Console.Error.WriteLine("usage: KsanaBench suite --ksana-bin PATH --run-dir DIR --results-dir DIR --callee-port N --callee-log PATH --nginx-pid N [--peers-dir DIR --peers a,b] [--quick] [--deadline-unix S]");
        Console.Error.WriteLine("       KsanaBench analyze --log PATH --jobs N --mode spread|aligned --w0 MS --w1 MS [--log-start MS]");
        return 2;
}

static async Task<int> Suite(Dictionary<string, string> o)
{
    string Req(string k) => o.TryGetValue(k, out var v) ? v : throw new ArgumentException($"--{k} is required");
    var started = DateTime.UtcNow;
    bool quick = o.ContainsKey("quick");
    var deadline = o.TryGetValue("deadline-unix", out var dl)
        ? DateTimeOffset.FromUnixTimeSeconds(long.Parse(dl, CultureInfo.InvariantCulture)).UtcDateTime
        : started.AddMinutes(quick ? 15 : 40);
    var runDir = Path.GetFullPath(Req("run-dir"));
    Child.Init(runDir);

    // Whatever happens, the processes this harness started end with it.
    using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => { Child.KillAll(); Environment.Exit(143); });
    using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => { Child.KillAll(); Environment.Exit(130); });
    AppDomain.CurrentDomain.ProcessExit += (_, _) => Child.KillAll();

    var callee = new Callee(int.Parse(Req("callee-port"), CultureInfo.InvariantCulture), Req("callee-log"),
        int.Parse(Req("nginx-pid"), CultureInfo.InvariantCulture));
    var peersDir = o.TryGetValue("peers-dir", out var pd) ? Path.GetFullPath(pd) : "";
    var peers = o.TryGetValue("peers", out var pl) ? pl.Split(',', StringSplitOptions.RemoveEmptyEntries) : [];
    var ksanaBin = Path.GetFullPath(Req("ksana-bin"));

    var ctx = new Ctx
    {
        Quick = quick, RunDir = runDir, ResultsDir = Path.GetFullPath(Req("results-dir")), KsanaBin = ksanaBin,
        PeersDir = peersDir, Callee = callee, Wrk = o.GetValueOrDefault("wrk", "wrk"),
        StartedUtc = started, DeadlineUtc = deadline, Systems = BuildSystems(ksanaBin, peersDir, peers),
        FloorBin = o.TryGetValue("floor-bin", out var fb) && File.Exists(fb) ? Path.GetFullPath(fb) : null,
    };
    File.WriteAllText(ctx.KeyFile, "# bench key\n" + ctx.ApiKey + "\n");

    try
    {
        await Preflight.Run(ctx);
        Describe(ctx, o);
        ctx.Log($"systems: {string.Join(", ", ctx.Systems.Select(s => s.Key))}; {(quick ? "quick" : "full")} mode; deadline {deadline:HH:mm:ss}Z");
        if (ctx.FloorBin is null)
            ctx.Results.Notes.Add("The machine's floor was not measured: bench/floor/floor.c was not built (no C compiler, or it failed; see logs/build-floor.log).");
        else if (o.ContainsKey("floor-replaced"))
            ctx.Results.Notes.Add($"The rows named “floor” measure {ctx.FloorBin} (BENCH_FLOOR_BIN), not the machine's floor (bench/floor/floor.c).");
        Report.Save(ctx);
        // BENCH_SCENARIOS=creates,kill9,resources,delivery,slow,firing-kill runs only those (development).
        var only = Environment.GetEnvironmentVariable("BENCH_SCENARIOS") is { Length: > 0 } sc
            ? sc.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet() : null;
        bool Run(string name) => only is null || only.Contains(name);
        if (only is not null) ctx.Results.Notes.Add($"Only these scenarios were run (BENCH_SCENARIOS): {string.Join(", ", only)}.");
        if (Run("creates")) Creates.RunAll(ctx);
        if (Run("kill9")) await Durability.RunAll(ctx);
        if (Run("resources")) await Resources.RunAll(ctx);
        if (Run("delivery")) await Delivery.RunAll(ctx);
        if (Run("slow")) await Delivery.RunSlowCallee(ctx);
        if (Run("firing-kill")) await Durability.RunFiringKill(ctx);
    }
    catch (BenchException e)
    {
        ctx.Log("stopped: " + e.Message);
        ctx.Results.Notes.Add("The run stopped early: " + e.Message);
        return 1;
    }
    finally
    {
        ctx.Results.Meta["finished"] = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture);
        Report.Save(ctx);
        Child.KillAll();
    }
    ctx.Log($"done in {(DateTime.UtcNow - started).TotalMinutes:0.0} min");
    return 0;
}

static List<SystemDef> BuildSystems(string ksanaBin, string peersDir, string[] peers)
{
    var list = new List<SystemDef>
    {
        new("ksana", "Ksana", "ksana", true, ksanaBin, [], [], null) { Durable = true },
    };
    // The order of the issues: Quartz.NET, Hangfire, croner, then the durable peers, then anything else.
    string[] preferred = ["quartz", "hangfire", "croner", "quartz-ado", "hangfire-pg", "bullmq"];
    foreach (var p in peers.OrderBy(p => Array.IndexOf(preferred, p) is var i && i >= 0 ? i : preferred.Length).ThenBy(p => p, StringComparer.Ordinal))
    {
        var dir = Path.Combine(peersDir, p);
        var start = Path.Combine(dir, "start.sh");
        if (!File.Exists(start)) continue;
        string version = PeerVersion(dir, p);
        switch (p)
        {
            case "quartz":
                list.Add(new("quartz", $"Quartz.NET {version}".Trim(), p, false, "/bin/bash", [start], [], dir));
                break;
            case "hangfire":
                list.Add(new("hangfire", $"Hangfire {version} (default polling)".Replace("  ", " "), p, false, "/bin/bash", [start],
                    new() { ["HANGFIRE_POLL_MS"] = null }, dir));
                list.Add(new("hangfire-1s", "Hangfire (1 s polling)", p, false, "/bin/bash", [start],
                    new() { ["HANGFIRE_POLL_MS"] = "1000" }, dir));
                break;
            case "croner":
                list.Add(new("croner", $"croner {version} (Node.js)".Replace("  ", " "), p, false, "/bin/bash", [start], [], dir));
                break;
            case "quartz-ado":
                list.Add(new("quartz-pg", $"Quartz.NET {version} AdoJobStore, PostgreSQL".Replace("  ", " "), p, false, "/bin/bash", [start],
                    new() { ["QUARTZ_STORE"] = "postgres" }, dir) { Durable = true });
                list.Add(new("quartz-sqlite", $"Quartz.NET {version} AdoJobStore, SQLite (synchronous=FULL)".Replace("  ", " "), p, false, "/bin/bash", [start],
                    new() { ["QUARTZ_STORE"] = "sqlite" }, dir) { Durable = true });
                break;
            case "hangfire-pg":
                list.Add(new("hangfire-pg", $"Hangfire.PostgreSql {version} (1 s polling)".Replace("  ", " "), p, false, "/bin/bash", [start],
                    new() { ["HANGFIRE_POLL_MS"] = "1000" }, dir) { Durable = true });
                break;
            case "bullmq":
                list.Add(new("bullmq", $"BullMQ {version} (Redis, appendfsync always)".Replace("  ", " "), p, false, "/bin/bash", [start], [], dir) { Durable = true });
                break;
            default:
                list.Add(new(p, p, p, false, "/bin/bash", [start], [], dir));
                break;
        }
    }
    return list;
}

/// <summary>The library's version as the peer pins it (csproj PackageReference or package.json).</summary>
static string PeerVersion(string dir, string peer)
{
    try
    {
        var pkg = peer switch { "quartz" or "quartz-ado" => "Quartz", "hangfire" => "Hangfire.Core", "hangfire-pg" => "Hangfire.PostgreSql", _ => null };
        if (pkg is not null)
            foreach (var csproj in Directory.EnumerateFiles(dir, "*.csproj"))
            {
                var m = Regex.Match(File.ReadAllText(csproj), $"Include=\"{Regex.Escape(pkg)}\"\\s+Version=\"([^\"]+)\"");
                if (!m.Success && pkg == "Hangfire.Core")
                    m = Regex.Match(File.ReadAllText(csproj), "Include=\"Hangfire[.\\w]*\"\\s+Version=\"([^\"]+)\"");
                if (m.Success) return m.Groups[1].Value;
            }
        var installed = Path.Combine(dir, "node_modules", peer, "package.json");
        if (File.Exists(installed))
        {
            var m = Regex.Match(File.ReadAllText(installed), "\"version\"\\s*:\\s*\"([^\"]+)\"");
            if (m.Success) return m.Groups[1].Value;
        }
    }
    catch (IOException) { }
    return "";
}

/// <summary>Machine, tools and the size each system needs on disk.</summary>
static void Describe(Ctx ctx, Dictionary<string, string> o)
{
    var m = ctx.Results.Meta;
    m["date"] = ctx.StartedUtc.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
    m["mode"] = ctx.Quick ? "quick (BENCH_QUICK=1: one short run per scenario; not for publishing)" : "full";
    var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
    var memKb = File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
    m["machine"] = $"{Environment.ProcessorCount} cores ({cpu}), {long.Parse(memKb, CultureInfo.InvariantCulture) / 1048576.0:0.0} GiB, Linux {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}";
    m["callee"] = $"nginx on 127.0.0.1:{ctx.Callee.Port} ({o.GetValueOrDefault("nginx-version", "nginx")}), answers 204, logs $msec $request_uri";
    m["timings"] = $"delivery: {ctx.WarmupSeconds} s warm-up + {ctx.WindowSeconds} s window, {ctx.DeliveryReps} run each; creates: wrk {ctx.WrkWarmupSeconds} s warm-up + {ctx.WrkSeconds} s, median of {ctx.CreateReps}; start-up: median of {ctx.StartupReps}; idle CPU over {ctx.IdleSeconds} s";
    m["ksana_binary"] = ctx.KsanaBin + (o.TryGetValue("ksana-sha", out var sha) ? $" (sha256 {sha[..12]})" : "");
    if (o.TryGetValue("tools", out var tools)) m["tools"] = tools;
    if (o.TryGetValue("failed-peers", out var fp) && fp.Length > 0)
        ctx.Results.Notes.Add($"Peers left out because their build.sh failed: {fp}.");
    if (o.TryGetValue("left-out", out var lo) && lo.Length > 0)
        foreach (var why in lo.Split(';', StringSplitOptions.RemoveEmptyEntries))
            ctx.Results.Notes.Add($"Peer left out: {why.Trim()}.");

    var dotnetRoot = Path.GetDirectoryName(ResolveLink("/usr/bin/dotnet")) ?? "/usr/share/dotnet";
    long runtime = ProcFs.DiskBytes(Path.Combine(dotnetRoot, "shared")) + ProcFs.DiskBytes(Path.Combine(dotnetRoot, "host"))
        + ProcFs.DiskBytes(Path.Combine(dotnetRoot, "dotnet"));
    var node = ResolveLink("/usr/bin/node");
    foreach (var s in ctx.Systems)
    {
        long bytes; string what;
        if (s.IsKsana) { bytes = ProcFs.DiskBytes(s.FileName); what = "the ksana binary"; }
        else if (s.WorkDir is { } dir && Directory.Exists(Path.Combine(dir, "node_modules")))
        {
            long app = ProcFs.DiskBytes(dir);
            bytes = app + ProcFs.DiskBytes(node);
            what = $"node binary {ProcFs.DiskBytes(node) / 1048576.0:0.0} MB + app with node_modules {app / 1048576.0:0.0} MB";
        }
        else if (s.WorkDir is { } d2 && Directory.Exists(Path.Combine(d2, "out")))
        {
            long app = ProcFs.DiskBytes(Path.Combine(d2, "out"));
            bytes = app + runtime;
            what = $"publish folder {app / 1048576.0:0.0} MB + .NET shared runtimes, host and muxer {runtime / 1048576.0:0.0} MB";
        }
        else { bytes = 0; what = "unknown"; }
        if (s.WorkDir is { } wd && File.Exists(Path.Combine(wd, "needs")))
            what += " (not counting the " + string.Join(" and ", File.ReadAllLines(Path.Combine(wd, "needs")).Where(l => l.Trim().Length > 0)
                .Select(l => l.Trim() switch { "postgres" => "PostgreSQL", "redis" => "Redis", var x => x })) + " server it needs)";
        ctx.Results.Systems.Add(new SystemInfo(s.Key, s.Label, s.Persists, bytes, what) { AckAfterFsync = s.Durable });
    }
}

static string ResolveLink(string path)
{
    try { return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path; }
    catch (IOException) { return path; }
}

static int Analyze(Dictionary<string, string> o)
{
    int jobs = int.Parse(o["jobs"], CultureInfo.InvariantCulture);
    var phases = new int[jobs];
    if (o.GetValueOrDefault("mode") == "spread") for (int i = 0; i < jobs; i++) phases[i] = (int)((long)i * 1000 / jobs);
    long w0 = long.Parse(o["w0"], CultureInfo.InvariantCulture);
    var l = LatenessAnalyzer.Analyze(o["log"], phases, 1000, w0, long.Parse(o["w1"], CultureInfo.InvariantCulture),
        o.TryGetValue("log-start", out var ls) ? long.Parse(ls, CultureInfo.InvariantCulture) : w0 - 2100);
    Console.WriteLine(l);
    return 0;
}

static Dictionary<string, string> ParseArgs(string[] a)
{
    var d = new Dictionary<string, string>();
    for (int i = 1; i < a.Length; i++)
    {
        if (!a[i].StartsWith("--", StringComparison.Ordinal)) continue;
        var k = a[i][2..];
        if (i + 1 < a.Length && !a[i + 1].StartsWith("--", StringComparison.Ordinal)) d[k] = a[++i];
        else d[k] = "";
    }
    return d;
}
