using Ksana.Hosting;
using Ksana.Scheduling;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Timeout;

namespace Ksana.Http;

/// <summary>
/// Calls a job's endpoint for one run (SPEC §5). The retry and per-attempt timeout are Polly's, from
/// Microsoft.Extensions.Http.Resilience; Ksana only says what is retryable and how long to wait,
/// per run, from the ticket the request carries. Redirects are not followed.
/// </summary>
public sealed class Delivery(IHttpClientFactory clients)
{
    public const string ClientName = "ksana-callbacks";

    public async Task<RunOutcome> DeliverAsync(RunTicket ticket)
    {
        var spec = ticket.Job.Spec;
        using var request = new HttpRequestMessage(new HttpMethod(spec.Http.Method), spec.Http.Url);
        request.Options.Set(AttemptHandler.TicketKey, ticket);
        try
        {
            using var response = await clients.CreateClient(ClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ticket.Cancellation.Token);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300) return new RunOutcome(RunStatus.Succeeded, null);
            var why = !RetryRules.IsRetryable(response.StatusCode) ? $"HTTP {status}: not retried (only 408, 429 and 5xx are)"
                : ticket.Draining ? $"HTTP {status}; retry abandoned: Ksana is shutting down"
                : $"HTTP {status}: retries used up after {ticket.Attempts.Length} attempts";
            return new RunOutcome(RunStatus.Failed, why);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or OperationCanceledException)
        {
            // The attempt handler already recorded each attempt's error; this names how the run ended.
            var last = ticket.Attempts is [.., var attempt]
                ? attempt.Error ?? $"HTTP {attempt.StatusCode}"
                : e.Message;
            var why = ticket.StopReason == StopReason.JobDeleted ? "cancelled: the job was deleted"
                : ticket.Draining && ticket.AttemptCount == 0 ? "not started: Ksana shut down while the run waited for a worker"
                : ticket.Draining ? $"Ksana shut down before the next retry (last: {last})"
                : $"{last}: retries used up after {ticket.Attempts.Length} attempts";
            return new RunOutcome(RunStatus.Failed, why);
        }
    }

    /// <summary>The callback client: primary handler, Polly pipeline, and the attempt handler innermost.</summary>
    public static IServiceCollection AddDelivery(IServiceCollection services, Settings settings, Func<HttpMessageHandler>? primary)
    {
        var workers = new SemaphoreSlim(settings.Workers, settings.Workers);
        var client = services.AddHttpClient(ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => primary?.Invoke() ?? new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                UseProxy = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();
        // Handlers nest in the order added: retry ⊃ worker gate ⊃ attempt timeout ⊃ attempt.
        client.AddResilienceHandler("retry", RetryPipeline);
        client.AddHttpMessageHandler(() => new WorkerGate(workers));
        client.AddResilienceHandler("attempt", TimeoutPipeline);
        client.AddHttpMessageHandler(sp => new AttemptHandler(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<Delivery>();
        return services;
    }

    static void RetryPipeline(ResiliencePipelineBuilder<HttpResponseMessage> builder, ResilienceHandlerContext context)
    {
        var time = context.ServiceProvider.GetRequiredService<TimeProvider>();
        builder.AddRetry(new HttpRetryStrategyOptions
        {
            // The real limit is per job (max_retries); ShouldHandle enforces it.
            MaxRetryAttempts = Settings.MaxRetriesMax,
            ShouldRetryAfterHeader = false,
            UseJitter = false,
            ShouldHandle = args =>
            {
                var ticket = Ticket(args.Context);
                var retryable = args.Outcome.Exception is { } e ? RetryRules.IsRetryable(e)
                    : args.Outcome.Result is { } r && !r.IsSuccessStatusCode && RetryRules.IsRetryable(r.StatusCode);
                return ValueTask.FromResult(retryable && args.AttemptNumber < ticket.Job.Spec.MaxRetries
                    && !ticket.Draining && ticket.StopReason == StopReason.None);
            },
            DelayGenerator = args =>
            {
                var ticket = Ticket(args.Context);
                var delay = RetryRules.Delay(ticket.Job.Spec.RetryBackoff, args.AttemptNumber + 1,
                    Random.Shared.NextDouble() * 2 - 1, RetryRules.RetryAfter(args.Outcome.Result, time.GetUtcNow()));
                return ValueTask.FromResult<TimeSpan?>(delay);
            },
            OnRetry = args =>
            {
                Ticket(args.Context).Retrying();
                return ValueTask.CompletedTask;
            },
        });
    }

    static void TimeoutPipeline(ResiliencePipelineBuilder<HttpResponseMessage> builder, ResilienceHandlerContext context)
    {
        builder.AddTimeout(new HttpTimeoutStrategyOptions
        {
            TimeoutGenerator = args => ValueTask.FromResult(Ticket(args.Context).Job.Spec.Timeout),
        });
    }

    static RunTicket Ticket(ResilienceContext context) =>
        context.GetRequestMessage() is { } request && request.Options.TryGetValue(AttemptHandler.TicketKey, out var ticket)
            ? ticket
            : throw new InvalidOperationException("An outbound request without a run ticket.");
}
