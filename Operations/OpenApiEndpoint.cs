using System.IO.Compression;
using System.IO.Hashing;
using Microsoft.Net.Http.Headers;

namespace Ksana.Operations;

/// <summary>
/// <c>GET /openapi.json</c>: the hand-written OpenAPI 3.1 document of the whole contract
/// (<c>Operations/OpenApi/openapi.json</c>), embedded in the binary. It is compressed once, on the
/// first request, with Brotli and gzip, and served in the encoding the client prefers, with a
/// strong ETag (so a revalidation is a 304) and <c>Cache-Control: no-cache</c> (a cache may keep it
/// but must revalidate, so an upgraded server is seen at once). It needs no key.
/// </summary>
public static class OpenApiEndpoint
{
    public const string Path = "/openapi.json";
    const string ResourceName = "Ksana.Operations.OpenApi.openapi.json";

    static readonly Lazy<Representations> Document = new(Load);

    public static IEndpointRouteBuilder MapOpenApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, Serve).AllowAnonymous();
        return app;
    }

    /// <summary>The document's bytes, uncompressed (tests read it through here).</summary>
    public static ReadOnlyMemory<byte> Json => Document.Value.Identity;

    static IResult Serve(HttpContext context)
    {
        var document = Document.Value;
        var request = context.Request;
        var response = context.Response;
        response.Headers.ETag = document.ETag;
        response.Headers.CacheControl = "no-cache";
        response.Headers.Vary = HeaderNames.AcceptEncoding;
        foreach (var tag in request.Headers.IfNoneMatch)
            if (tag is not null && (tag.Contains(document.ETag, StringComparison.Ordinal) || tag.Trim() == "*"))
                return TypedResults.StatusCode(StatusCodes.Status304NotModified);

        var (body, encoding) = Pick(request.Headers.AcceptEncoding, document);
        if (encoding is not null) response.Headers.ContentEncoding = encoding;
        return TypedResults.Bytes(body, "application/json");
    }

    /// <summary>Brotli if the client takes it, else gzip, else the plain bytes; a q of 0 refuses a coding.</summary>
    static (ReadOnlyMemory<byte> Body, string? Encoding) Pick(Microsoft.Extensions.Primitives.StringValues acceptEncoding, Representations document)
    {
        bool br = false, gzip = false;
        foreach (var header in acceptEncoding)
        {
            if (header is null) continue;
            foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var semicolon = part.IndexOf(';');
                var coding = (semicolon < 0 ? part : part[..semicolon]).Trim();
                var refused = semicolon >= 0 && part[(semicolon + 1)..].Replace(" ", "", StringComparison.Ordinal) is "q=0" or "q=0.0" or "q=0.00" or "q=0.000";
                if (refused) continue;
                if (coding.Equals("br", StringComparison.OrdinalIgnoreCase)) br = true;
                else if (coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || coding == "*") gzip = true;
            }
        }
        return br ? (document.Brotli, "br") : gzip ? (document.Gzip, "gzip") : (document.Identity, null);
    }

    static Representations Load()
    {
        using var stream = typeof(OpenApiEndpoint).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the embedded resource {ResourceName} is missing from the build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var identity = copy.ToArray();
        var etag = $"\"{Convert.ToHexStringLower(XxHash64.Hash(identity))}\"";
        return new Representations(identity, Compress(identity, brotli: true), Compress(identity, brotli: false), etag);
    }

    static byte[] Compress(byte[] data, bool brotli)
    {
        using var output = new MemoryStream();
        using (Stream compressor = brotli
                   ? new BrotliStream(output, CompressionLevel.SmallestSize, leaveOpen: true)
                   : new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
            compressor.Write(data);
        return output.ToArray();
    }

    sealed record Representations(byte[] Identity, byte[] Brotli, byte[] Gzip, string ETag);
}
