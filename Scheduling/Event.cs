namespace Ksana.Scheduling;

/// <summary>
/// One of Ksana's own events, posted to EVENTS_URL (SPEC §9). It lives in its job's outbox, in the
/// journal, from the moment its run ends until the endpoint has taken it, so it survives a crash.
/// </summary>
public sealed record Event(Guid Id, string Type, DateTimeOffset At, Guid JobId, string? JobKey, string JobName, Run Run)
{
    public const string RunFailed = "run.failed";
    public const string JobPaused = "job.paused";
    public const string JobRecovered = "job.recovered";

    /// <summary>The event id as sent in its body and in webhook-id: 32 lower-case hex characters.</summary>
    public string IdText => Id.ToString("N");
}
