using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>How one attempt ended: a small closed set, made at one boundary (the outbound sender).</summary>
public enum AttemptResult
{
    /// <summary>A 2xx answer.</summary>
    Succeeded,
    /// <summary>408, 429, 5xx or a connection error: worth another try.</summary>
    Retryable,
    /// <summary>Any other answer (3xx, other 4xx), or an error no retry can mend.</summary>
    Failed,
    /// <summary>The attempt timeout passed: worth another try.</summary>
    TimedOut,
    /// <summary>The run was stopped from outside (job deleted, shutdown).</summary>
    Cancelled,
    /// <summary>The address is denied to callbacks: final, no retry.</summary>
    Blocked,
}

/// <summary>
/// One attempt's outcome: the status code when there was an answer, else the error, and the wait a
/// 429 or 503 asked for in Retry-After.
/// </summary>
public readonly record struct AttemptOutcome(AttemptResult Result, int? StatusCode, string? Error, TimeSpan? RetryAfter = null)
{
    /// <summary>The first 1 KiB of the answer's body as text (invalid UTF-8 replaced); null when there was none.</summary>
    public string? Response { get; init; }

    public bool MayRetry => Result is AttemptResult.Retryable or AttemptResult.TimedOut;
}

/// <summary>Everything one attempt sends, fixed before it is sent: placeholders filled, Ksana's headers added.</summary>
public sealed record AttemptRequest(
    string Method,
    string Url,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[]? Body,
    TimeSpan Timeout)
{
    /// <summary><see cref="Url"/> already parsed (the job's, shared by its attempts); null: parse it.</summary>
    public Uri? Address { get; init; }
}

/// <summary>The outbound side: sends one attempt and says how it ended. It never throws for an expected failure.</summary>
public delegate Task<AttemptOutcome> SendAttempt(AttemptRequest request, CancellationToken cancel);
