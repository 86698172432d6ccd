using System.Security.Cryptography;
using System.Text;
using Ksana.Scheduling;

namespace Ksana.Http;

/// <summary>
/// <c>Idempotency-Key</c> (SPEC §4, IETF httpapi draft) as an endpoint filter: a route opts in with
/// <see cref="WithIdempotency"/>. A request with the header is looked up by (API key, idempotency
/// key): the first is answered as usual and, when its answer is 2xx, that answer (status, body,
/// Location) is written to the journal and made durable before it is sent; a repeat of the same
/// request (method, path and body) within 24 h gets it again with <c>Idempotent-Replayed: true</c>
/// and changes nothing; a different request with the same key is a 422; a repeat while the first is
/// still being answered is a 409. An answer other than 2xx changed nothing and is not remembered, so
/// a retry after it is served anew.
/// </summary>
/// <remarks>
/// The answer is written right after the change it answers, not in the same journal line: a crash
/// in the few milliseconds between the two syncs leaves the change without its answer, and a retry
/// after the restart is served anew. Limits: see <see cref="RememberedAnswers"/>.
/// </remarks>
public static class Idempotency
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    public const int KeyLengthMax = 255;

    /// <summary>Makes a route honour <c>Idempotency-Key</c>.</summary>
    public static TBuilder WithIdempotency<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(FilterAsync);

    /// <summary>1 to 255 printable ASCII characters (space to tilde).</summary>
    public static bool IsValid(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > KeyLengthMax) return false;
        foreach (var c in key)
            if (c is < ' ' or > '~')
                return false;
        return true;
    }

    static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var http = invocation.HttpContext;
        var values = http.Request.Headers[Header];
        if (values.Count == 0) return await next(invocation);
        if (values.Count > 1 || !IsValid(values[0]))
            return Problems.Status(StatusCodes.Status400BadRequest,
                $"{Header} must be one header of 1 to {KeyLengthMax} printable ASCII characters");
        var key = values[0]!;
        // The body is part of what makes two requests the same; read it once and hand the handler a copy.
        var body = await ReadBodyAsync(http.Request);
        if (body is null) return await next(invocation); // over the size limit: the handler answers 413
        http.Request.Body = new MemoryStream(body, writable: false);

        var caller = http.Items[ApiKeyAuth.IdentityItem] as string ?? "";
        var request = Fingerprint(http.Request, body);
        var table = http.RequestServices.GetRequiredService<JobTable>();
        var answers = table.Answers;
        switch (answers.Begin(caller, key, request, out var earlier))
        {
            case AnswerLookup.Replay:
                return new Replayed(earlier!);
            case AnswerLookup.Different:
                return Problems.Status(StatusCodes.Status422UnprocessableEntity,
                    $"this {Header} was used within 24 h for a different request (method, path or body); use a new key for a new request");
            case AnswerLookup.InProgress:
                return Problems.Status(StatusCodes.Status409Conflict,
                    $"a request with this {Header} is still being answered; retry once it is");
        }

        var remembered = false;
        try
        {
            var result = await next(invocation);
            if (result is not IResult answer || StatusOf(answer) is not (>= 200 and < 300)) return result;
            var (status, location, type, text) = await CaptureAsync(http, answer);
            var now = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
            try
            {
                await table.Remember(new RememberedAnswer(caller, key, request, now, status, location, type, text));
            }
            catch (ChangeLogUnavailableException e)
            {
                // The change itself is durable, but a retry could not be recognised: say so rather than 2xx.
                http.Response.Headers.Location = default;
                return Problems.Status(StatusCodes.Status503ServiceUnavailable,
                    $"the change was made, but the answer for {Header} could not be saved: {e.Message}");
            }
            answers.Completed(caller, key);
            remembered = true;
            return new Replayed(new RememberedAnswer(caller, key, request, now, status, location, type, text), replayed: false);
        }
        finally
        {
            if (!remembered) answers.Abandon(caller, key);
        }
    }

    static async Task<byte[]?> ReadBodyAsync(HttpRequest request)
    {
        if (request.ContentLength > RequestBody.SizeMax) return null;
        using var copy = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int n;
            try
            {
                n = await request.Body.ReadAsync(buffer);
            }
            catch (BadHttpRequestException)
            {
                return null; // the handler meets the same error and answers it
            }
            if (n == 0) return copy.ToArray();
            copy.Write(buffer, 0, n);
            if (copy.Length > RequestBody.SizeMax) return null;
        }
    }

    /// <summary>A digest of method, path, query and body: two requests with the same digest are the same request.</summary>
    static string Fingerprint(HttpRequest request, byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method}\n{request.PathBase}{request.Path}{request.QueryString}\n"));
        hash.AppendData(body);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    static int? StatusOf(IResult result)
    {
        while (result is INestedHttpResult nested) result = nested.Result;
        return (result as IStatusCodeHttpResult)?.StatusCode;
    }

    /// <summary>Runs the handler's result into memory, to keep exactly what the client is sent.</summary>
    static async Task<(int Status, string? Location, string Type, string Body)> CaptureAsync(HttpContext http, IResult answer)
    {
        var response = http.Response;
        var original = response.Body;
        using var buffer = new MemoryStream();
        response.Body = buffer;
        try
        {
            await answer.ExecuteAsync(http);
            await response.BodyWriter.FlushAsync();
        }
        finally
        {
            response.Body = original;
        }
        var location = response.Headers.Location.ToString();
        return (response.StatusCode, location.Length == 0 ? null : location, response.ContentType ?? "application/json",
            Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    /// <summary>Sends a remembered answer: again (with Idempotent-Replayed: true), or the first time, once it is durable.</summary>
    sealed class Replayed(RememberedAnswer answer, bool replayed = true) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            var response = http.Response;
            response.StatusCode = answer.Status;
            response.ContentType = answer.ContentType;
            if (answer.Location is { } location) response.Headers.Location = location;
            if (replayed) response.Headers[ReplayedHeader] = "true";
            var bytes = Encoding.UTF8.GetBytes(answer.Body);
            response.ContentLength = bytes.Length;
            await response.Body.WriteAsync(bytes);
        }
    }
}
