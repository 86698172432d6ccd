using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Http.Headers;
using Ksana.Http.Trust;
using Ksana.Scheduling;

namespace Ksana.Http.Outbound;

/// <summary>
/// Sends one attempt (SPEC §5) and turns whatever happened into an <see cref="AttemptOutcome"/>.
/// The per-attempt timeout runs on the injected clock and covers the answer's first bytes of body.
/// Redirects are not followed. This is the one boundary where outbound exceptions become values.
/// </summary>
public sealed class CallbackSender(HttpMessageInvoker client, TimeProvider time)
{
    /// <summary>Reading a little lets a short answer free its connection for reuse; a long one is cut off.</summary>
    public const int ResponseBodyReadMax = 4096;

    /// <summary>How much of an answer's body a run record keeps (SPEC §5).</summary>
    public const int ResponseExcerptBytes = 1024;

    // Timeout sources of finished attempts, reset for the next. Made on the injected clock with no
    // deadline; CancelAfter then arms that clock's timer. A source on another clock than the
    // system's cannot be reset (its timer cannot be disarmed): the pool lets it go.
    readonly SourcePool _timeouts = new(() => new CancellationTokenSource(Timeout.InfiniteTimeSpan, time));

    CancellationTokenSource RentTimeout(TimeSpan after)
    {
        var source = _timeouts.Rent();
        source.CancelAfter(after);
        return source;
    }

    public async Task<AttemptOutcome> SendAsync(AttemptRequest attempt, CancellationToken cancel)
    {
        // One source per attempt: the timeout's, which a stop of the run also cancels (a linked
        // source would be a second object and a second registration for the same effect).
        var timeout = RentTimeout(attempt.Timeout);
        var stop = cancel.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout);
        try
        {
            using var request = Message(attempt);
            using var response = await client.SendAsync(request, timeout.Token);
            // A 204 (or an answer to HEAD) has no body by definition (RFC 9110): nothing to read or keep.
            var excerpt = response.StatusCode == System.Net.HttpStatusCode.NoContent || request.Method == HttpMethod.Head
                ? null : await Read(response, timeout.Token);
            var status = (int)response.StatusCode;
            var outcome = status is >= 200 and < 300 ? new AttemptOutcome(AttemptResult.Succeeded, status, null)
                : RetryPolicy.IsRetryable(status) ? new AttemptOutcome(AttemptResult.Retryable, status, null, RetryAfter(response, time.GetUtcNow()))
                : new AttemptOutcome(AttemptResult.Failed, status, null);
            return outcome with { Response = excerpt };
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException)
        {
            // The one place an attempt's failure becomes a value; the retry policy decides what follows.
            // A connection refused by OUTBOUND_DENY arrives as an HttpRequestException around the
            // connector's exception; its message is the run's error, and no retry can mend it.
            return e switch
            {
                _ when OutboundBlockedException.In(e) is { } blocked => new(AttemptResult.Blocked, null, blocked.Message),
                OperationCanceledException when cancel.IsCancellationRequested => new(AttemptResult.Cancelled, null, null),
                OperationCanceledException => new(AttemptResult.TimedOut, null, $"timeout after {attempt.Timeout.TotalMilliseconds:0}ms"),
                HttpRequestException h => new(AttemptResult.Retryable, null, $"connection error: {h.Message}"),
                _ => new(AttemptResult.Failed, null, $"{e.GetType().Name}: {e.Message}"),
            };
        }
        finally
        {
            // Unregistered first (waiting out a stop being delivered), so a stop can never reach
            // the source once another attempt has it.
            stop.Dispose();
            _timeouts.Return(timeout);
        }
    }

    static HttpRequestMessage Message(AttemptRequest attempt)
    {
        // User information in the URL (SPEC §5) is sent as Basic credentials, never as part of the
        // URL called, unless the job sets Authorization itself.
        var url = attempt.Address ?? new Uri(attempt.Url);
        string? basic = null;
        if (url.UserInfo.Length > 0)
            (url, basic) = Secrets.WithoutUserInfo(url, attempt.Headers.Any(h => h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase)));
        // Parse hands out the shared instances of the standard methods: no HttpMethod per attempt.
        var request = new HttpRequestMessage(HttpMethod.Parse(attempt.Method), url);
        if (basic is not null) request.Headers.TryAddWithoutValidation("Authorization", basic);
        var content = attempt.Body is null ? null : new ByteArrayContent(attempt.Body);
        // By index: a foreach over the interface would box an enumerator per attempt.
        var headers = attempt.Headers;
        for (var i = 0; i < headers.Count; i++)
        {
            var (name, value) = headers[i];
            if (!name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
                request.Headers.TryAddWithoutValidation(name, value);
            else
                (content ??= new ByteArrayContent([])).Headers.TryAddWithoutValidation(name, value);
        }
        request.Content = content;
        return request;
    }

    /// <summary>The wait a 429 or 503 asks for in Retry-After (seconds or an HTTP date), if any.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
    {
        if ((int)response.StatusCode is not (429 or 503)) return null;
        return response.Headers.RetryAfter switch
        {
            RetryConditionHeaderValue { Delta: { } delta } => delta,
            RetryConditionHeaderValue { Date: { } date } => date > now ? date - now : TimeSpan.Zero,
            _ => null,
        };
    }

    /// <summary>
    /// Reads at most <see cref="ResponseBodyReadMax"/> bytes of the answer and returns the first
    /// <see cref="ResponseExcerptBytes"/> as text, or null when the body is empty.
    /// </summary>
    static async Task<string?> Read(HttpResponseMessage response, CancellationToken cancel)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancel);
        var buffer = ArrayPool<byte>.Shared.Rent(ResponseBodyReadMax);
        try
        {
            var read = 0;
            while (read < ResponseBodyReadMax)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read, ResponseBodyReadMax - read), cancel);
                if (n == 0) break;
                read += n;
            }
            return read == 0 ? null : Excerpt(buffer.AsSpan(0, Math.Min(read, ResponseExcerptBytes)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>UTF-8 text, with invalid bytes (and a character cut at the end) replaced by U+FFFD.</summary>
    public static string Excerpt(ReadOnlySpan<byte> bytes) => System.Text.Encoding.UTF8.GetString(bytes);

    /// <summary>
    /// The callback client: one connection pool for every job, no redirects, no cookies, no proxy (a
    /// proxy would hide the address each connection is made to), and every connection made by
    /// <paramref name="connector"/>, which applies OUTBOUND_DENY to the address actually connected.
    /// </summary>
    public static HttpMessageHandler Handler(OutboundConnector? connector = null) => new SocketsHttpHandler
    {
        ConnectCallback = connector is null ? null : connector.ConnectAsync,
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
    };
}
