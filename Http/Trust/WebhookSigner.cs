using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Ksana.Http.Trust;

/// <summary>
/// Signs callbacks the Standard Webhooks way (SPEC §8): <c>webhook-signature</c> is one
/// <c>v1,&lt;base64 HMAC-SHA256(secret, "&lt;id&gt;.&lt;timestamp&gt;.&lt;body&gt;")&gt;</c> entry per secret, in
/// file order, separated by single spaces, so a secret is rotated by adding the new one, moving
/// callees over and then removing the old one. An instance is immutable: a reload of the keys file
/// builds a new one, and an attempt signs with whichever instance it read.
/// </summary>
public sealed class WebhookSigner
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    public const string SecretPrefix = "whsec_";
    public const int SecretBytesMin = 24;
    public const int SecretBytesMax = 64;

    /// <summary>More secrets than this is a mistake, not a rotation, and would bloat every request.</summary>
    public const int SecretsMax = 16;

    /// <summary>Run and event ids are 32 hex characters; anything near this limit is a bug upstream.</summary>
    public const int IdLengthMax = 256;

    /// <summary>Messages up to this size are built on the stack; larger ones borrow from the array pool.</summary>
    const int StackMessageMax = 1024;

    /// <summary>"v1," + 44 base64 characters of a 32-byte HMAC.</summary>
    const int EntryLength = 3 + 44;

    readonly byte[][] _secrets;

    WebhookSigner(byte[][] secrets) => _secrets = secrets;

    /// <summary>How many secrets sign each request; zero means signing is off.</summary>
    public int Count => _secrets.Length;

    /// <summary>Length in characters of the <c>webhook-signature</c> value this signer writes.</summary>
    public int SignatureLength => _secrets.Length == 0 ? 0 : _secrets.Length * (EntryLength + 1) - 1;

    /// <summary>
    /// A signer for secrets given as lines of text (the keys file): blank lines and lines starting
    /// with <c>#</c> are skipped, the rest trimmed. Returns null and sets <paramref name="error"/>
    /// to a reason that names the 1-based line number when a line is not a valid secret. The
    /// reason never contains the line itself: it is (or is close to) a secret.
    /// </summary>
    public static WebhookSigner? Parse(IEnumerable<string> lines, out string error)
    {
        var secrets = new List<byte[]>();
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.AsSpan().Trim();
            if (line.IsEmpty || line[0] == '#') continue;
            if (!TryParseSecret(line, out var secret, out var why))
            {
                error = $"line {number}: {why}";
                return null;
            }
            if (secrets.Count == SecretsMax)
            {
                error = $"line {number}: more than {SecretsMax} secrets";
                return null;
            }
            secrets.Add(secret);
        }
        error = "";
        return new WebhookSigner(secrets.ToArray());
    }

    /// <summary>
    /// Decodes one <c>whsec_&lt;base64&gt;</c> secret. The error names what is wrong without echoing
    /// any of the text.
    /// </summary>
    public static bool TryParseSecret(ReadOnlySpan<char> text, out byte[] secret, out string error)
    {
        secret = [];
        if (!text.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            error = $"a secret must start with {SecretPrefix} followed by base64";
            return false;
        }
        var encoded = text[SecretPrefix.Length..];
        // Base64 of 64 bytes is 88 characters; a longer line cannot be a valid secret, and checking
        // first keeps the stack buffer below small.
        if (encoded.Length > 4 * ((SecretBytesMax + 2) / 3))
        {
            error = $"the secret after {SecretPrefix} is longer than base64 of {SecretBytesMax} bytes";
            return false;
        }
        Span<byte> decoded = stackalloc byte[SecretBytesMax + 3];
        if (!Convert.TryFromBase64Chars(encoded, decoded, out var length))
        {
            error = $"the secret after {SecretPrefix} is not valid base64";
            return false;
        }
        if (length is < SecretBytesMin or > SecretBytesMax)
        {
            error = $"the secret decodes to {length} bytes; it must be {SecretBytesMin} to {SecretBytesMax}";
            return false;
        }
        secret = decoded[..length].ToArray();
        CryptographicOperations.ZeroMemory(decoded);
        error = "";
        return true;
    }

    /// <summary>The <c>webhook-signature</c> value for one attempt.</summary>
    /// <param name="id">The <c>webhook-id</c>: the run id, or the event id.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c>: Unix seconds when the attempt is sent.</param>
    /// <param name="body">Exactly the bytes sent, placeholders filled.</param>
    public string Sign(string id, long timestamp, ReadOnlySpan<byte> body)
    {
        if (_secrets.Length == 0) throw new InvalidOperationException("no signing secret: signing is off");
        Span<char> value = stackalloc char[SignatureLength];
        var written = Write(id, timestamp, body, value);
        return new string(value[..written]);
    }

    /// <summary>
    /// Adds the three Standard Webhooks headers to <paramref name="request"/>. The caller reads
    /// <paramref name="timestamp"/> from its <see cref="TimeProvider"/> just before sending.
    /// </summary>
    public void AddHeaders(HttpRequestMessage request, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var signature = Sign(id, timestamp, body);
        request.Headers.TryAddWithoutValidation(IdHeader, id);
        request.Headers.TryAddWithoutValidation(TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation(SignatureHeader, signature);
    }

    int Write(string id, long timestamp, ReadOnlySpan<byte> body, Span<char> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(timestamp);
        if (id.Length is 0 or > IdLengthMax)
            throw new ArgumentException($"a webhook id must be 1 to {IdLengthMax} characters", nameof(id));

        // HMACSHA256.HashData is one-shot over one span, so the signed content
        // "<id>.<timestamp>.<body>" is laid out once in a buffer and hashed once per secret.
        var idBytes = Encoding.UTF8.GetMaxByteCount(id.Length);
        var length = checked(idBytes + 1 + 20 + 1 + body.Length);
        byte[]? rented = null;
        Span<byte> message = length <= StackMessageMax
            ? stackalloc byte[StackMessageMax]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var at = Encoding.UTF8.GetBytes(id, message);
            message[at++] = (byte)'.';
            timestamp.TryFormat(message[at..], out var digits, default, CultureInfo.InvariantCulture);
            at += digits;
            message[at++] = (byte)'.';
            body.CopyTo(message[at..]);
            at += body.Length;

            Span<byte> hash = stackalloc byte[HMACSHA256.HashSizeInBytes];
            var written = 0;
            foreach (var secret in _secrets)
            {
                if (written > 0) destination[written++] = ' ';
                "v1,".CopyTo(destination[written..]);
                written += 3;
                HMACSHA256.HashData(secret, message[..at], hash);
                Convert.TryToBase64Chars(hash, destination[written..], out var chars);
                written += chars;
            }
            return written;
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
