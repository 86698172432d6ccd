using System.Net.Http.Headers;
using System.Text;
using Ksana.Hosting;
using Ksana.Scheduling;

namespace Ksana.Http;

/// <summary>
/// Holds a worker slot for one attempt. It sits inside the retry strategy, so a run waiting for its
/// next retry holds no worker, and outside the attempt timeout, so time spent queueing for a worker
/// never counts against the attempt.
/// </summary>
public sealed class WorkerGate(SemaphoreSlim workers) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Options.TryGetValue(AttemptHandler.TicketKey, out var ticket) && ticket.Draining)
            throw new OperationCanceledException("Ksana is shutting down: no new attempt");
        await workers.WaitAsync(cancellationToken);
        try
        {
            return await base.SendAsync(request, cancellationToken);
        }
        finally
        {
            workers.Release();
        }
    }
}

/// <summary>
/// The innermost handler: one call per attempt, inside the retry strategy, the worker gate and the
/// attempt timeout. It fills in what changes per attempt (X-Ksana-Attempt, the body placeholders),
/// records the attempt on the run's ticket, and reads at most a small part of the response body.
/// </summary>
public sealed class AttemptHandler(TimeProvider time) : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<RunTicket> TicketKey = new("ksana.ticket");
    public const int ResponseBodyReadMax = 4096;
    static readonly string UserAgent = $"ksana/{Settings.Version}";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Options.TryGetValue(TicketKey, out var ticket))
            throw new InvalidOperationException("An outbound request without a run ticket.");
        var number = ticket.AttemptCount + 1;
        var started = Clock.Millis(time.GetUtcNow());
        ticket.BeginAttempt(started);
        Prepare(request, ticket, number);
        var clock = time.GetTimestamp();
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            await Drain(response, cancellationToken);
            ticket.EndAttempt(new Attempt(number, started, Elapsed(clock), (int)response.StatusCode, null));
            return response;
        }
        catch (Exception e)
        {
            // The one place an attempt's failure becomes a record; the retry strategy decides what follows.
            var error = e switch
            {
                OperationCanceledException when ticket.StopReason == StopReason.JobDeleted => "cancelled: the job was deleted",
                OperationCanceledException when ticket.StopReason == StopReason.ShuttingDown => "cancelled: Ksana is shutting down",
                OperationCanceledException => $"timeout after {ticket.Job.Spec.Timeout.TotalMilliseconds:0}ms",
                HttpRequestException h => $"connection error: {h.Message}",
                _ => $"{e.GetType().Name}: {e.Message}",
            };
            ticket.EndAttempt(new Attempt(number, started, Elapsed(clock), null, error));
            throw;
        }
    }

    long Elapsed(long clock) => (long)time.GetElapsedTime(clock).TotalMilliseconds;

    static void Prepare(HttpRequestMessage request, RunTicket ticket, int number)
    {
        var spec = ticket.Job.Spec.Http;
        request.Headers.Clear();
        request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        request.Headers.TryAddWithoutValidation("X-Ksana-Run-Id", ticket.RunId);
        request.Headers.TryAddWithoutValidation("X-Ksana-Job-Id", ticket.Job.Id.ToString());
        request.Headers.TryAddWithoutValidation("X-Ksana-Attempt", number.ToString(System.Globalization.CultureInfo.InvariantCulture));

        HttpContent? content = null;
        foreach (var (name, value) in spec.Headers)
        {
            if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
            {
                content ??= Body(spec.Body, ticket, number);
                content.Headers.TryAddWithoutValidation(name, value);
            }
            else
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }
        if (content is null && spec.Body.Length > 0) content = Body(spec.Body, ticket, number);
        request.Content = content;
    }

    static ByteArrayContent Body(string body, RunTicket ticket, int number)
    {
        if (body.Contains("{{", StringComparison.Ordinal))
            body = body
                .Replace("{{job_id}}", ticket.Job.Id.ToString(), StringComparison.Ordinal)
                .Replace("{{run_id}}", ticket.RunId, StringComparison.Ordinal)
                .Replace("{{scheduled_at}}", Rfc3339.Format(ticket.ScheduledAt), StringComparison.Ordinal)
                .Replace("{{triggered_at}}", Rfc3339.Format(ticket.TriggeredAt), StringComparison.Ordinal)
                .Replace("{{attempt}}", number.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        return new ByteArrayContent(Encoding.UTF8.GetBytes(body));
    }

    static async Task Drain(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // Reading a little lets a short answer free its connection for reuse; a long one is cut off.
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            for (var read = 0; read < ResponseBodyReadMax;)
            {
                var n = await stream.ReadAsync(buffer, cancellationToken);
                if (n == 0) break;
                read += n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
