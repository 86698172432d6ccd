using System.Net;
using System.Net.Http.Headers;
using Polly.Timeout;

namespace Ksana.Http;

/// <summary>
/// The retry rules of SPEC §5 as pure functions, so they are tested with tables and no clock.
/// </summary>
public static class RetryRules
{
    public static readonly TimeSpan DelayMax = TimeSpan.FromHours(1);
    public const double Jitter = 0.2;

    /// <summary>408, 429 and 5xx are worth another try; other non-2xx answers are final.</summary>
    public static bool IsRetryable(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    /// <summary>Connection errors and attempt timeouts are retryable; a stopped run is not.</summary>
    public static bool IsRetryable(Exception exception) =>
        exception is HttpRequestException or TimeoutRejectedException;

    /// <summary>
    /// Delay before retry <paramref name="retry"/> (1-based): backoff·2^(retry−1), capped at 1 h, times
    /// (1 + 0.2·<paramref name="jitterUnit"/>) with the unit in [−1, 1]; a longer Retry-After wins.
    /// </summary>
    public static TimeSpan Delay(TimeSpan backoff, int retry, double jitterUnit, TimeSpan? retryAfter)
    {
        var exponent = Math.Min(retry - 1, 40);
        var raw = Math.Min(backoff.Ticks * Math.Pow(2, exponent), DelayMax.Ticks);
        var jittered = TimeSpan.FromTicks((long)Math.Min(raw * (1 + Jitter * Math.Clamp(jitterUnit, -1, 1)), DelayMax.Ticks));
        if (retryAfter is { } asked && asked > jittered) return asked < DelayMax ? asked : DelayMax;
        return jittered;
    }

    /// <summary>The wait a 429 or 503 asks for in Retry-After (seconds or an HTTP date), if any.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage? response, DateTimeOffset now)
    {
        if (response is null || response.StatusCode is not (HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable))
            return null;
        return response.Headers.RetryAfter switch
        {
            RetryConditionHeaderValue { Delta: { } delta } => delta,
            RetryConditionHeaderValue { Date: { } date } => date > now ? date - now : TimeSpan.Zero,
            _ => null,
        };
    }
}
