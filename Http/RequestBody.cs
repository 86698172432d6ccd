using Microsoft.AspNetCore.Http.HttpResults;
using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Net.Http.Headers;

namespace Ksana.Http;

/// <summary>Reads a JSON request body with the limits and answers of SPEC §4 (400, 413, 415).</summary>
public static class RequestBody
{
    public const int SizeMax = 1 << 20;

    static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false, MaxDepth = 32 };

    /// <summary>The body as a tree that can be changed (an upsert's body, a merge patch).</summary>
    public static async Task<(JsonNode? Json, ProblemHttpResult? Problem)> ReadJsonAsync(HttpRequest request)
    {
        var (buffer, length, problem) = await ReadAsync(request);
        if (buffer is null) return (null, problem);
        try
        {
            var body = buffer.AsSpan(0, length);
            if (Check(body) is { } bad) return (null, bad);
            return (JsonNode.Parse(body, documentOptions: Strict), null);
        }
        catch (JsonException e)
        {
            return (null, Malformed(e));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The body as a read-only document over a pooled buffer (a create, the hot path): no tree of
    /// nodes is made. Dispose it after reading: that gives the buffer back.
    /// </summary>
    public static async Task<(JsonBody? Body, ProblemHttpResult? Problem)> ReadDocumentAsync(HttpRequest request)
    {
        var (buffer, length, problem) = await ReadAsync(request);
        if (buffer is null) return (null, problem);
        try
        {
            if (Check(buffer.AsSpan(0, length)) is { } bad) return (null, bad);
            var body = new JsonBody(JsonDocument.Parse(buffer.AsMemory(0, length), Strict), buffer);
            buffer = null; // the body owns it now
            return (body, null);
        }
        catch (JsonException e)
        {
            return (null, Malformed(e));
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The whole body in a buffer rented from the shared pool, which the caller gives back; or the
    /// answer for a body that is not JSON, too large, or could not be read.
    /// </summary>
    static async Task<(byte[]? Buffer, int Length, ProblemHttpResult? Problem)> ReadAsync(HttpRequest request)
    {
        if (!IsJson(request.ContentType))
            return (null, 0, Problems.Status(StatusCodes.Status415UnsupportedMediaType,
                $"the body must be JSON: send Content-Type: application/json (got {(request.ContentType is { } ct ? $"\"{ct}\"" : "none")})"));
        if (request.ContentLength > SizeMax)
            return (null, 0, TooLarge());

        var buffer = ArrayPool<byte>.Shared.Rent(request.ContentLength is > 0 and var announced ? (int)announced + 1 : 16 * 1024);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > SizeMax) return (null, 0, TooLarge());
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var n = await request.Body.ReadAsync(buffer.AsMemory(length));
                if (n == 0) break;
                length += n;
                if (length > SizeMax) return (null, 0, TooLarge());
            }
            var read = buffer;
            buffer = null; // the caller's now
            return (read, length, null);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, 0, TooLarge());
        }
        catch (BadHttpRequestException e)
        {
            // The client went away or sent less than it announced: an answer, not a server error.
            return (null, 0, Problems.Status(StatusCodes.Status400BadRequest, $"the request body could not be read: {e.Message}"));
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A 400 for a body that is empty or not valid Unicode; null otherwise. May throw <see cref="JsonException"/> for malformed JSON.</summary>
    static ProblemHttpResult? Check(ReadOnlySpan<byte> body)
    {
        if (body.Trim(" \t\r\n"u8).IsEmpty)
            return Problems.Status(StatusCodes.Status400BadRequest, "the request body is empty: expected a JSON object");
        // Before parsing: the parser reads member names eagerly, and a bad one would throw outside JsonException.
        return Unicode.FirstInvalid(body) is { } field
            ? Problems.InvalidField(field, "is not valid Unicode (invalid UTF-8 or a lone surrogate)")
            : null;
    }

    static ProblemHttpResult Malformed(JsonException e)
    {
        var where = e.LineNumber is { } line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
        var why = e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].TrimEnd('.', ' ');
        return Problems.Status(StatusCodes.Status400BadRequest, $"malformed JSON{where}: {why}");
    }

    static ProblemHttpResult TooLarge() =>
        Problems.Status(StatusCodes.Status413PayloadTooLarge, $"the request body is larger than {SizeMax} bytes (1 MiB)");

    static bool IsJson(string? contentType)
    {
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media)) return false;
        if (media.Charset.HasValue && !media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)) return false;
        var type = media.MediaType.Value ?? "";
        return type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }
}

/// <summary>A request body's parsed document, over a buffer from the shared pool that <see cref="Dispose"/> gives back.</summary>
public sealed class JsonBody(JsonDocument document, byte[] buffer) : IDisposable
{
    byte[]? _buffer = buffer;

    public JsonElement Root => document.RootElement;

    public void Dispose()
    {
        document.Dispose();
        if (Interlocked.Exchange(ref _buffer, null) is { } rented) ArrayPool<byte>.Shared.Return(rented);
    }
}
