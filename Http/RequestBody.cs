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
        var (body, problem) = await ReadDocumentAsync(request);
        if (body is null) return (null, problem);
        using (body) return (JsonNode.Parse(body.Bytes.Span, documentOptions: Strict), null);
    }

    /// <summary>
    /// The body as a read-only document over a pooled buffer (a create, the hot path): no tree of
    /// nodes is made. Dispose it after reading: that gives the buffer back.
    /// </summary>
    public static async Task<(JsonBody? Body, ProblemHttpResult? Problem)> ReadDocumentAsync(HttpRequest request)
    {
        if (!IsJson(request.ContentType))
            return (null, Problems.Status(StatusCodes.Status415UnsupportedMediaType,
                $"the body must be JSON: send Content-Type: application/json (got {(request.ContentType is { } ct ? $"\"{ct}\"" : "none")})"));
        if (request.ContentLength > SizeMax)
            return (null, TooLarge());

        var buffer = ArrayPool<byte>.Shared.Rent(request.ContentLength is > 0 and var announced ? (int)announced + 1 : 16 * 1024);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > SizeMax) return (null, TooLarge());
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var n = await request.Body.ReadAsync(buffer.AsMemory(length));
                if (n == 0) break;
                length += n;
                if (length > SizeMax) return (null, TooLarge());
            }
            var problem = Parse(buffer, length, out var document);
            if (problem is not null) return (null, problem);
            var body = new JsonBody(document!, buffer, length);
            buffer = null; // the body owns it now
            return (body, null);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }
        catch (BadHttpRequestException e)
        {
            // The client went away or sent less than it announced: an answer, not a server error.
            return (null, Problems.Status(StatusCodes.Status400BadRequest, $"the request body could not be read: {e.Message}"));
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A 400 for a body that is empty, not valid Unicode or not well-formed JSON; otherwise its document, over <paramref name="buffer"/>'s memory.</summary>
    static ProblemHttpResult? Parse(byte[] buffer, int length, out JsonDocument? document)
    {
        document = null;
        var body = buffer.AsSpan(0, length);
        if (body.Trim(" \t\r\n"u8).IsEmpty)
            return Problems.Status(StatusCodes.Status400BadRequest, "the request body is empty: expected a JSON object");
        try
        {
            // First: the parser reads member names eagerly, and a bad one would throw outside JsonException.
            if (Unicode.FirstInvalid(body) is { } field)
                return Problems.InvalidField(field, "is not valid Unicode (invalid UTF-8 or a lone surrogate)");
            document = JsonDocument.Parse(buffer.AsMemory(0, length), Strict);
            return null;
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
            var why = e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].TrimEnd('.', ' ');
            return Problems.Status(StatusCodes.Status400BadRequest, $"malformed JSON{where}: {why}");
        }
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

/// <summary>A request body and its parsed document, over a buffer from the shared pool that <see cref="Dispose"/> gives back.</summary>
public sealed class JsonBody(JsonDocument document, byte[] buffer, int length) : IDisposable
{
    byte[]? _buffer = buffer;

    public JsonElement Root => document.RootElement;

    /// <summary>The body's bytes, valid until disposed.</summary>
    public ReadOnlyMemory<byte> Bytes => _buffer.AsMemory(0, length);

    public void Dispose()
    {
        document.Dispose();
        if (Interlocked.Exchange(ref _buffer, null) is { } rented) ArrayPool<byte>.Shared.Return(rented);
    }
}
