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

    public static async Task<(JsonNode? Json, ProblemHttpResult? Problem)> ReadJsonAsync(HttpRequest request)
    {
        if (!IsJson(request.ContentType))
            return (null, Problems.Status(StatusCodes.Status415UnsupportedMediaType,
                $"the body must be JSON: send Content-Type: application/json (got {(request.ContentType is { } ct ? $"\"{ct}\"" : "none")})"));
        if (request.ContentLength > SizeMax)
            return (null, TooLarge());

        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
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
            // Parse before the buffer goes back to the pool: another request may take it at once.
            return Parse(buffer.AsSpan(0, length));
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
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    static (JsonNode? Json, ProblemHttpResult? Problem) Parse(ReadOnlySpan<byte> body)
    {
        if (body.Trim(" \t\r\n"u8).IsEmpty)
            return (null, Problems.Status(StatusCodes.Status400BadRequest, "the request body is empty: expected a JSON object"));
        try
        {
            // First: the parser reads member names eagerly, and a bad one would throw outside JsonException.
            if (Unicode.FirstInvalid(body) is { } field)
                return (null, Problems.InvalidField(field, "is not valid Unicode (invalid UTF-8 or a lone surrogate)"));
            return (JsonNode.Parse(body, documentOptions: Strict), null);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
            var why = e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].TrimEnd('.', ' ');
            return (null, Problems.Status(StatusCodes.Status400BadRequest, $"malformed JSON{where}: {why}"));
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
