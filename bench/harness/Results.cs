namespace KsanaBench;

/// <summary>Everything measured in one run; written to latest.json as is.</summary>
sealed class Results
{
    public Dictionary<string, object?> Meta { get; } = [];
    public List<SystemInfo> Systems { get; } = [];
    public List<DeliveryResult> Delivery { get; } = [];
    /// <summary>The machine's floor for each delivery case: a C program making only the calls (bench/floor/floor.c).</summary>
    public List<DeliveryResult> Floor { get; } = [];
    public List<CreateResult> Creates { get; } = [];
    public List<DurabilityResult> Durability { get; } = [];
    public List<ResourceResult> Resources { get; } = [];
    /// <summary>1 000 jobs spread, 5 % of them calling a callee that answers after 2 s; lateness of the others.</summary>
    public List<DeliveryResult> SlowCallee { get; } = [];
    /// <summary>kill -9 while 1 000 jobs fire (Ksana): the runs that had started, after the restart.</summary>
    public List<FiringKillResult> FiringKill { get; } = [];
    public List<string> Notes { get; } = [];
}

sealed record SystemInfo(string Key, string Label, bool Persists, long DeployBytes, string DeployWhat)
{
    /// <summary>Acknowledges a create only once it is fsync'd.</summary>
    public bool AckAfterFsync { get; init; }
}

/// <summary>One system on one delivery scenario (median over repetitions where there were several).</summary>
sealed record DeliveryResult(
    string System, int Jobs, string Mode, string Status, int Runs,
    Lateness? Lateness, double? CpuUsPerCallback, double? CpuPercent, long? RssKb, long? HwmKb,
    double? CreateSeconds, int? ExitCode, bool? Graceful, double? StopSeconds)
{
    /// <summary>Slow-callee case: requests the slow callee received in the window, and the most it held at once.</summary>
    public long? SlowCalls { get; init; }
    public int? SlowMaxInFlight { get; init; }
    /// <summary>The window [w0, w1) and the start of the callee log, Unix ms (to re-run the analysis).</summary>
    public long[]? WindowMs { get; init; }
    /// <summary>
    /// Ksana only: bytes its runtime allocated per callback in the window (dotnet_gc_allocated_bytes_total
    /// from /metrics at both ends). Unlike CPU time, the machine's noise does not move it.
    /// </summary>
    public double? AllocatedBytesPerCallback { get; init; }
}

/// <summary>POST /jobs throughput through wrk at one concurrency.</summary>
sealed record CreateResult(
    string System, int Clients, string Status,
    double? OkPerSecond, double? P50Ms, double? P99Ms, long? Requests, long? Non2xx, string? SocketErrors, long? RssKb)
{
    public int Runs { get; init; } = 1;
    /// <summary>Creates per second of each repetition.</summary>
    public double[]? Samples { get; init; }
}

/// <summary>kill -9 during a burst of creates, then a restart: is every acknowledged job still there?</summary>
sealed record DurabilityResult(
    string System, string Status, int Acknowledged, int Found, int Lost, int UnacknowledgedPresent,
    double? BurstSeconds, double? RestartSeconds, List<string>? LostSample);

/// <summary>Start-up, idle and memory figures of one system.</summary>
sealed record ResourceResult(string System, string Status)
{
    public List<StartupPoint> Startup { get; init; } = [];
    public double? IdleCpuPercent { get; init; }
    public long? IdleRssKb { get; init; }
    public long? Rss10kKb { get; init; }
    public long? Rss100kKb { get; init; }
    public long? Hwm100kKb { get; init; }
    public double? Create100kSeconds { get; init; }
    public long? JournalBytes100k { get; init; }
    /// <summary>Creating 100 000 cron jobs, and start-up with them persisted (Ksana only; issue 10).</summary>
    public double? Create100kCronSeconds { get; init; }
    public StartupPoint? CronStartup { get; init; }
    public List<string> Problems { get; init; } = [];
}

/// <summary>Restart with N jobs persisted: time from exec to the first 200 on /health, and memory.</summary>
sealed record StartupPoint(int Jobs, double ReadyMs, double[] SamplesMs, long RssAtReadyKb, long RssAfter1sKb);

/// <summary>
/// kill -9 while jobs fire, then a restart: every run scheduled before the kill must have ended
/// (succeeded, or failed as interrupted), and every call the callee saw must have a run record.
/// </summary>
sealed record FiringKillResult(
    string System, string Status, int Jobs, int RunsBeforeKill, int Succeeded, int Failed, int Interrupted,
    int Skipped, int LeftRunning, int CalleeCallsBeforeKill, int CallsWithoutRun, double? RestartSeconds, List<string>? Sample);
