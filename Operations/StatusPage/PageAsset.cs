using System.IO.Compression;
using System.Security.Cryptography;

namespace Ksana.Operations;

/// <summary>
/// One file of the status page, embedded in the binary as a manifest resource (so nothing needs to sit
/// beside it) and compressed once, on first use, into gzip and Brotli. Compressing at first request
/// rather than at start-up keeps start-up time untouched for the many servers whose page nobody opens.
/// </summary>
sealed class PageAsset
{
    /// <summary>The page's files are a few kB each; anything bigger is a packaging mistake.</summary>
    const int SizeMax = 256 * 1024;

    PageAsset(string contentType, byte[] identity)
    {
        ContentType = contentType;
        Identity = identity;
        // A strong validator from the content: it changes exactly when a new binary ships a new page.
        Tag = Convert.ToHexStringLower(SHA256.HashData(identity).AsSpan(0, 12));
        Gzip = Smaller(Compress(identity, s => new GZipStream(s, CompressionLevel.SmallestSize)));
        Brotli = Smaller(Compress(identity, s => new BrotliStream(s, CompressionLevel.SmallestSize)));
    }

    public string ContentType { get; }
    public byte[] Identity { get; }
    /// <summary>Null when compressing would not make the file smaller.</summary>
    public byte[]? Gzip { get; }
    public byte[]? Brotli { get; }
    string Tag { get; }

    byte[]? Smaller(byte[] compressed) => compressed.Length < Identity.Length ? compressed : null;

    public static PageAsset Load(string resource, string contentType)
    {
        using var stream = typeof(PageAsset).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"the status page resource {resource} is missing from the binary");
        if (stream.Length > SizeMax)
            throw new InvalidOperationException($"the status page resource {resource} is {stream.Length} bytes, over the {SizeMax} limit");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return new PageAsset(contentType, bytes);
    }

    /// <summary>
    /// The representation to send for an Accept-Encoding header: Brotli, then gzip, then the plain bytes.
    /// Each has its own ETag, because a cache must not answer a gzip request with a Brotli body.
    /// </summary>
    public (byte[] Body, string? Encoding, string ETag) Negotiate(string acceptEncoding)
    {
        if (Brotli is not null && Accepts(acceptEncoding, "br")) return (Brotli, "br", $"\"{Tag}-br\"");
        if (Gzip is not null && Accepts(acceptEncoding, "gzip")) return (Gzip, "gzip", $"\"{Tag}-gz\"");
        return (Identity, null, $"\"{Tag}\"");
    }

    /// <summary>True when the header lists the coding (or <c>*</c>) without <c>q=0</c>.</summary>
    static bool Accepts(string header, string coding)
    {
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var pieces = part.Split(';', StringSplitOptions.TrimEntries);
            if (!pieces[0].Equals(coding, StringComparison.OrdinalIgnoreCase) && pieces[0] != "*") continue;
            var refused = pieces.Skip(1).Any(p => p.Replace(" ", "") is "q=0" or "q=0.0" or "q=0.00" or "q=0.000");
            return !refused;
        }
        return false;
    }

    static byte[] Compress(byte[] data, Func<Stream, Stream> encoder)
    {
        using var output = new MemoryStream();
        using (var stream = encoder(output)) stream.Write(data);
        return output.ToArray();
    }
}
