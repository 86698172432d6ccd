using Polly;
using Polly.Retry;

namespace Ksana.Scheduling;

/// <summary>
/// The retry rules of SPEC §5 in one place: which outcome is retried, how long to wait, and what a
/// run's error says when it ends. The waiting is Polly's (Microsoft.Extensions.Http.Resilience's
/// retry strategy) on the injected clock; the rules are pure functions tested with tables.
/// </summary>
public static class RetryPolicy
{
    public static readonly TimeSpan DelayMax = TimeSpan.FromHours(1);
    public const double Jitter = 0.2;
    public const int RetriesMax = 100;

    /// <summary>408, 429 and 5xx are worth another try; other non-2xx answers are final.</summary>
    public static bool IsRetryable(int status) => status is 408 or 429 || status >= 500;

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

    /// <summary>
    /// Whether a run whose attempt number <paramref name="retriesDone"/> (0: the first) ended with
    /// <paramref name="outcome"/> gets another: a retryable outcome, retries left (max_retries), and
    /// neither a shutdown nor a stop of the run.
    /// </summary>
    public static bool Retries(AttemptOutcome outcome, int retriesDone, RunInFlight run, bool draining) =>
        outcome.MayRetry && retriesDone < run.Job.Spec.MaxRetries && !draining && run.StopReason == StopReason.None;

    static readonly ResiliencePropertyKey<RunInFlight> RunKey = new("ksana.run");

    /// <summary>
    /// The one retry pipeline every run goes through. Per-run limits (max_retries, retry_backoff)
    /// come from the run in the context; <paramref name="retrying"/> is told before each wait.
    /// </summary>
    public static ResiliencePipeline<AttemptOutcome> Pipeline(TimeProvider time, Func<bool> draining, Action<RunInFlight> retrying) =>
        new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                // The real limit is per job (max_retries); ShouldHandle enforces it.
                MaxRetryAttempts = RetriesMax,
                UseJitter = false,
                ShouldHandle = args => ValueTask.FromResult(
                    Retries(args.Outcome.Result, args.AttemptNumber, args.Context.Properties.GetValue(RunKey, null!), draining())),
                DelayGenerator = args =>
                {
                    var run = args.Context.Properties.GetValue(RunKey, null!);
                    return ValueTask.FromResult<TimeSpan?>(Delay(run.Job.Spec.RetryBackoff.ToTimeSpan(), args.AttemptNumber + 1,
                        Random.Shared.NextDouble() * 2 - 1, args.Outcome.Result.RetryAfter));
                },
                OnRetry = args =>
                {
                    retrying(args.Context.Properties.GetValue(RunKey, null!));
                    return ValueTask.CompletedTask;
                },
            })
            .Build();

    /// <summary>A context for one run, from Polly's pool: return it with <see cref="ResilienceContextPool"/>.</summary>
    public static ResilienceContext Context(RunInFlight run)
    {
        var context = ResilienceContextPool.Shared.Get(run.StopToken);
        context.Properties.Set(RunKey, run);
        return context;
    }

    /// <summary>What one attempt's record says went wrong, or null for an answer (its status code says it).</summary>
    public static string? AttemptError(AttemptOutcome outcome, StopReason stop) => outcome.Result switch
    {
        AttemptResult.Cancelled => stop == StopReason.JobDeleted ? "cancelled: the job was deleted" : "cancelled: Ksana is shutting down",
        _ => outcome.Error,
    };

    /// <summary>Why a run failed, from its last outcome and how it was stopped; null when it succeeded.</summary>
    public static string? RunError(AttemptOutcome last, RunInFlight run, bool draining)
    {
        var attempts = run.AttemptCount;
        if (last.Result == AttemptResult.Succeeded) return null;
        if (run.StopReason == StopReason.JobDeleted) return "cancelled: the job was deleted";
        if (last.StatusCode is { } status && last.Result is not AttemptResult.Cancelled)
            return !IsRetryable(status) ? $"HTTP {status}: not retried (only 408, 429 and 5xx are)"
                : draining ? $"HTTP {status}; retry abandoned: Ksana is shutting down"
                : $"HTTP {status}: retries used up after {attempts} attempts";
        if (draining && attempts == 0) return "not started: Ksana shut down while the run waited for a worker";
        var lastError = run.Attempts is [.., var a] ? a.Error ?? $"HTTP {a.StatusCode}" : last.Error ?? "no attempt was made";
        if (last.Result == AttemptResult.Blocked) return lastError;
        if (draining) return $"Ksana shut down before the next retry (last: {lastError})";
        if (last.Result == AttemptResult.Failed) return lastError;
        return $"{lastError}: retries used up after {attempts} attempts";
    }
}
