using System.Globalization;

namespace KsanaBench;

/// <summary>Everything a scenario needs: options, timings, the callee, the systems, the results so far.</summary>
sealed class Ctx
{
    public required bool Quick { get; init; }
    public required string RunDir { get; init; }
    public required string ResultsDir { get; init; }
    public required string KsanaBin { get; init; }
    public required string PeersDir { get; init; }
    public required Callee Callee { get; init; }
    public required string Wrk { get; init; }
    public required DateTime StartedUtc { get; init; }
    /// <summary>Past this instant nothing new starts (the suite must end within 45 minutes).</summary>
    public required DateTime DeadlineUtc { get; init; }
    public required List<SystemDef> Systems { get; init; }
    /// <summary>The machine's floor for the delivery cases (bench/floor/floor.c, built by run.sh); null when it did not build (no C compiler, or a compile error).</summary>
    public string? FloorBin { get; init; }
    public string ApiKey { get; } = "bench-" + Guid.NewGuid().ToString("N");
    public string KeyFile => Path.Combine(RunDir, "keys");
    public Results Results { get; } = new();

    // Timings (seconds). Quick mode runs every scenario once and briefly.
    public int WarmupSeconds => 3;
    public int WindowSeconds => Quick ? 4 : 10;
    public int WrkWarmupSeconds => Quick ? 1 : 2;
    public int WrkSeconds => Quick ? 3 : 5;
    public int CreateReps => Quick ? 1 : 3;
    public int IdleSeconds => Quick ? 3 : 10;
    public int StartupReps => Quick ? 1 : 3;
    public int DeliveryReps => 1;
    public double DurabilityBurstSeconds => Quick ? 1.0 : 2.0;
    public TimeSpan ReadyTimeout => TimeSpan.FromSeconds(60);
    /// <summary>How long creating the jobs of one delivery case may take before the system is left out of it.</summary>
    public TimeSpan CreateTimeout => TimeSpan.FromSeconds(60);
    /// <summary>The same for the 100 000 jobs of the memory scenario.</summary>
    public TimeSpan BulkCreateTimeout => TimeSpan.FromSeconds(Quick ? 60 : 120);

    /// <summary>
    /// The smallest job count a system could not be given in time; larger delivery cases are then
    /// not attempted for it (they would only burn the time budget).
    /// </summary>
    public Dictionary<string, int> CreateLimit { get; } = [];

    /// <summary>
    /// A durable peer's slowest create rate (jobs/s) in the delivery cases so far: it gets a larger
    /// case only if that rate creates its jobs within <see cref="CreateTimeout"/> (a case it could
    /// not create would only burn the time budget).
    /// </summary>
    public Dictionary<string, double> DurableCreateRate { get; } = [];
    public const int CreateConcurrency = 64;

    /// <summary>Peers yield first when time runs short, so that Ksana's own figures are always measured.</summary>
    public bool HasTime(SystemDef s, double needSeconds) => HasTime(essential: s.IsKsana, needSeconds);

    /// <summary>Whether <paramref name="needSeconds"/> more fit: up to the deadline for Ksana's own figures, 3 minutes less for the rest.</summary>
    public bool HasTime(bool essential, double needSeconds)
    {
        var limit = essential ? DeadlineUtc : DeadlineUtc.AddMinutes(-3);
        return DateTime.UtcNow.AddSeconds(needSeconds) < limit;
    }

    public IEnumerable<SystemDef> DeliverySystems => Systems;
    /// <summary>Hangfire's polling interval only matters for delivery; other scenarios run it once.</summary>
    public IEnumerable<SystemDef> ApiSystems => Systems.Where(s => s.Key != "hangfire-1s");

    int dirSeq;
    public string NewDataDir(string tag)
    {
        var d = Path.Combine(RunDir, "data", $"{Interlocked.Increment(ref dirSeq):D3}-{tag}");
        Directory.CreateDirectory(d);
        return d;
    }

    public void Log(string msg) =>
        Console.Error.WriteLine($"[{(DateTime.UtcNow - StartedUtc).TotalSeconds,6:0.0}s] {msg}");

    public static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public static void SleepUntilMs(long unixMs)
    {
        while (true)
        {
            long d = unixMs - NowMs();
            if (d <= 0) return;
            Thread.Sleep((int)Math.Min(d, 200));
        }
    }

    public static string Iso(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A job that fires every second on the grid origin + phase (the delivery scenarios).</summary>
    public string FiringJob(int i, int phaseMs, long originMs) => FiringJobTo(i, Callee.HookUrl(i, phaseMs, 1000), phaseMs, originMs);

    /// <summary>The same, calling the given URL (the slow callee's).</summary>
    public static string FiringJobTo(int i, string url, int phaseMs, long originMs) =>
        $$"""{"name":"b{{i}}","type":"http","http":{"method":"GET","url":"{{url}}"},"schedule":{"kind":"every","every":"1s","start_at":"{{Iso(originMs + phaseMs)}}"},"max_retries":0,"timeout":"10s"}""";

    /// <summary>
    /// The period of the "quiet" jobs that load the API without loading the callee: 3600s (first
    /// run an hour after creation), or 60s for a system that accepts only periods dividing a
    /// minute (found by <see cref="Preflight"/>).
    /// </summary>
    public Dictionary<string, string> QuietEvery { get; } = [];

    public Func<int, string> QuietJobFor(SystemDef s)
    {
        var every = QuietEvery.GetValueOrDefault(s.Key, "3600s");
        int periodMs = int.Parse(every.TrimEnd('s'), CultureInfo.InvariantCulture) * 1000;
        return i => $$"""{"name":"q{{i}}","type":"http","http":{"method":"GET","url":"{{Callee.HookUrl(i, 0, periodMs)}}"},"schedule":{"kind":"every","every":"{{every}}"},"max_retries":0,"timeout":"10s"}""";
    }

    static readonly string[] CronZones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "Australia/Sydney"];

    /// <summary>
    /// A cron job that stays quiet during a run (once a week at a spread minute and hour), with
    /// distinct expressions and zones as real jobs have: start-up parses and plans each one.
    /// </summary>
    public Func<int, string> QuietCronJob() =>
        i => $$"""{"name":"c{{i}}","type":"http","http":{"method":"GET","url":"{{Callee.HookUrl(i, 0, 3_600_000)}}"},"schedule":{"kind":"cron","cron":"{{i % 60}} {{i / 60 % 24}} * * {{i / 1440 % 7}}","time_zone":"{{CronZones[i % CronZones.Length]}}"},"max_retries":0,"timeout":"10s"}""";
}
