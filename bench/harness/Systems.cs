using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KsanaBench;

/// <summary>One scheduler as the suite runs it: Ksana itself or a peer from bench/peers/.</summary>
sealed record SystemDef(
    string Key,          // short id used in JSON ("ksana", "quartz", "hangfire", "hangfire-1s", "croner")
    string Label,        // column header in the table
    string Family,       // peer directory name (deploy size, build); "ksana" for Ksana
    bool IsKsana,
    string FileName,
    string[] Args,
    Dictionary<string, string?> Env,
    string? WorkDir)
{
    /// <summary>
    /// Acknowledges a create only once it is fsync'd (Ksana's journal; the durable peers' database
    /// commit or Redis AOF with appendfsync always). The in-memory peers do not.
    /// </summary>
    public bool Durable { get; init; }

    /// <summary>Keeps its jobs across a restart: Ksana and the durable peers.</summary>
    public bool Persists => IsKsana || Durable;

    /// <summary>
    /// A durable peer runs in fewer cases (creates at 1 and 64 clients, kill -9, delivery up to
    /// 10 000 jobs, and 50 000 only if 10 000 were created fast enough), to keep the suite's time.
    /// </summary>
    public bool DurablePeer => Durable && !IsKsana;

    public string AckAfterFsync => Durable ? "yes" : "no";

    /// <summary>The label without a run variant ("Hangfire 1.8.25", not "… (default polling)"), for tables where it runs once.</summary>
    public string ShortLabel => Label.EndsWith(" (default polling)", StringComparison.Ordinal) ? Label[..^" (default polling)".Length] : Label;
}

/// <summary>A started system: its process, port, data directory and an API client.</summary>
sealed class RunningSystem : IDisposable
{
    public required SystemDef Def { get; init; }
    public required Child Child { get; init; }
    public required int Port { get; init; }
    public required Api Api { get; init; }
    public required string DataDir { get; init; }
    /// <summary>Seconds from exec to the first 200 on GET /health.</summary>
    public double ReadySeconds { get; init; }
    public int Pid => Child.Pid;

    public static RunningSystem Start(Ctx ctx, SystemDef def, string dataDir, string tag, int? port = null)
    {
        port ??= FreePort();
        Directory.CreateDirectory(dataDir);
        var env = new Dictionary<string, string?>(def.Env)
        {
            ["PORT"] = port.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DATA_DIR"] = dataDir,
            ["ASPNETCORE_URLS"] = null,
        };
        if (def.IsKsana)
        {
            env["AUTH_KEYS_FILE"] = ctx.KeyFile;
            env["WORKERS"] = "64";
            env["LOG_LEVEL"] = "Warning";
        }
        else env["MAX_CONCURRENCY"] = "64";

        Api.ProbeHealth(port.Value); // JIT the probe before the clock starts
        var logPath = Path.Combine(ctx.RunDir, "logs", $"{def.Key}-{tag}.log");
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var sw = Stopwatch.StartNew();
        var child = Child.Start(def.Key, def.FileName, def.Args, env, logPath, def.WorkDir);
        var ready = Api.WaitReady(port.Value, sw, child, ctx.ReadyTimeout);
        if (ready is null)
        {
            var exited = child.HasExited;
            child.Dispose();
            throw new BenchException($"{def.Label} did not answer GET /health with 200 within {ctx.ReadyTimeout.TotalSeconds:0} s"
                + (exited ? " (the process exited)" : "") + $"; see {logPath}: " + Tail(logPath));
        }
        return new RunningSystem
        {
            Def = def, Child = child, Port = port.Value, DataDir = dataDir, ReadySeconds = ready.Value,
            Api = new Api(port.Value, ctx.ApiKey, maxConnections: 512),
        };
    }

    static string Tail(string path)
    {
        try
        {
            var lines = File.ReadAllLines(path);
            return string.Join(" | ", lines.Skip(Math.Max(0, lines.Length - 5)));
        }
        catch (IOException) { return "(no log)"; }
    }

    /// <summary>SIGTERM with a grace period; the exit code says whether it drained cleanly.</summary>
    public (int? ExitCode, bool Graceful, double Seconds) Stop(double graceSeconds = 15)
    {
        Api.Dispose();
        return Child.Stop(TimeSpan.FromSeconds(graceSeconds));
    }

    public void Dispose()
    {
        Api.Dispose();
        Child.Dispose();
    }

    static int nextPort = 21000;

    /// <summary>
    /// A free port below the kernel's ephemeral range (32768+), so that no outbound connection
    /// can take it between this check and the server's bind.
    /// </summary>
    public static int FreePort()
    {
        for (int tries = 0; tries < 5000; tries++)
        {
            int p = Interlocked.Increment(ref nextPort);
            if (p > 29999) nextPort = p = 21000;
            try
            {
                var l = new TcpListener(IPAddress.Loopback, p);
                l.Start();
                l.Stop();
                return p;
            }
            catch (SocketException) { }
        }
        throw new BenchException("no free port in 21000-29999");
    }
}

sealed class BenchException(string message) : Exception(message);
