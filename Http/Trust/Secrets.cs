using System.Text;
using Ksana.Scheduling;

namespace Ksana.Http.Trust;

/// <summary>
/// Write-only secrets in jobs (SPEC §8). Sensitive header values and the password in a URL's user
/// information are stored and sent as given, but every API answer shows them as <see cref="Mask"/>,
/// and an edit that sends the mask back keeps the stored value, so a job that is read, edited and
/// written back keeps its secrets.
/// </summary>
/// <remarks>
/// A mask with nothing stored behind it is an error rather than the literal four stars: the
/// client plainly meant "keep", and there is nothing to keep, so storing "****" as a password
/// would only fail later, at the callee, with a confusing 401.
/// </remarks>
public static class Secrets
{
    public const string Mask = "****";

    public const string NothingToKeep = "**** can only keep a value that is already stored";

    static readonly string[] SensitiveWords = ["token", "secret", "key", "password", "signature"];

    /// <summary>True for headers whose values are never shown: credentials by name, or by a telling word in the name.</summary>
    public static bool IsSensitiveHeader(string name)
    {
        if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
            return true;
        foreach (var word in SensitiveWords)
            if (name.Contains(word, StringComparison.OrdinalIgnoreCase))
                return true;
        return false;
    }

    /// <summary>The headers as an API answer shows them: sensitive values replaced by the mask, order kept.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> MaskHeaders(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        var any = false;
        foreach (var (name, _) in headers) any |= IsSensitiveHeader(name);
        if (!any) return headers;
        var masked = new KeyValuePair<string, string>[headers.Count];
        for (var i = 0; i < headers.Count; i++)
        {
            var (name, value) = headers[i];
            masked[i] = new(name, IsSensitiveHeader(name) ? Mask : value);
        }
        return masked;
    }

    /// <summary>
    /// The URL as an API answer shows it: <c>https://user:****@host/…</c>. The rest of the text is
    /// left exactly as the client wrote it. A URL with no password (or an empty one) is returned as is.
    /// </summary>
    public static string MaskUrl(string url)
    {
        var password = FindPassword(url);
        return password.Length == 0 ? url : string.Concat(url.AsSpan(0, password.Start), Mask, url.AsSpan(password.End));
    }

    /// <summary>A job's client fields as every API answer shows them: secret header values and the URL's password masked.</summary>
    public static JobSpec Masked(JobSpec spec)
    {
        var url = MaskUrl(spec.Http.Url);
        var headers = MaskHeaders(spec.Http.Headers);
        return ReferenceEquals(url, spec.Http.Url) && ReferenceEquals(headers, spec.Http.Headers)
            ? spec
            : spec with { Http = spec.Http with { Url = url, Headers = headers } };
    }

    /// <summary>
    /// The headers to store after an edit: each incoming sensitive value that is the mask is replaced
    /// by the stored value of the same header name (compared ignoring case, as HTTP does). Returns null,
    /// or an error for field <c>http.headers</c> when a mask has no stored value behind it.
    /// </summary>
    public static string? MergeHeaders(
        IReadOnlyList<KeyValuePair<string, string>>? stored,
        IReadOnlyList<KeyValuePair<string, string>> incoming,
        out IReadOnlyList<KeyValuePair<string, string>> merged)
    {
        merged = incoming;
        var any = false;
        foreach (var (name, value) in incoming) any |= value == Mask && IsSensitiveHeader(name);
        if (!any) return null;

        var result = new KeyValuePair<string, string>[incoming.Count];
        for (var i = 0; i < incoming.Count; i++)
        {
            var (name, value) = incoming[i];
            // Only sensitive values are ever shown masked, so only they can come back masked; four
            // stars in any other header are what the client means to send.
            if (value == Mask && IsSensitiveHeader(name))
            {
                var kept = Find(stored, name);
                if (kept is null) return $"{name}: {NothingToKeep}";
                value = kept;
            }
            result[i] = new(name, value);
        }
        merged = result;
        return null;
    }

    /// <summary>
    /// The URL to store after an edit: when the incoming URL's password is the mask, the stored
    /// URL's password is put back (as it was written, percent-encoding and all). Returns null, or
    /// an error for field <c>http.url</c> when the stored URL has no password to keep.
    /// </summary>
    public static string? MergeUrl(string? stored, string incoming, out string merged)
    {
        merged = incoming;
        var password = FindPassword(incoming);
        if (!incoming.AsSpan(password.Start, password.Length).SequenceEqual(Mask)) return null;
        var storedPassword = stored is null ? default : FindPassword(stored);
        if (storedPassword.Length == 0) return $"password: {NothingToKeep}";
        merged = string.Concat(incoming.AsSpan(0, password.Start), stored.AsSpan(storedPassword.Start, storedPassword.Length), incoming.AsSpan(password.End));
        return null;
    }

    /// <summary>
    /// What to actually call for a job URL (SPEC §5): the URL without user information and, when it
    /// had some and the job does not set <c>Authorization</c> itself, the value of an
    /// <c>Authorization: Basic …</c> header. User and password are percent-decoded (RFC 3986 §3.2.1)
    /// and sent as UTF-8 (RFC 7617 §2.1).
    /// </summary>
    public static (Uri Url, string? Authorization) WithoutUserInfo(Uri url, bool jobSetsAuthorization)
    {
        if (!url.IsAbsoluteUri || url.UserInfo.Length == 0) return (url, null);
        var bare = new Uri(url.GetComponents(UriComponents.AbsoluteUri & ~UriComponents.UserInfo, UriFormat.UriEscaped));
        if (jobSetsAuthorization) return (bare, null);
        var info = url.UserInfo;
        var colon = info.IndexOf(':');
        var user = Uri.UnescapeDataString(colon < 0 ? info : info[..colon]);
        var password = colon < 0 ? "" : Uri.UnescapeDataString(info[(colon + 1)..]);
        return (bare, "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));
    }

    static string? Find(IReadOnlyList<KeyValuePair<string, string>>? headers, string name)
    {
        if (headers is null) return null;
        foreach (var (n, v) in headers)
            if (n.Equals(name, StringComparison.OrdinalIgnoreCase))
                return v;
        return null;
    }

    /// <summary>
    /// Where the password sits in the text of an absolute URL: after "scheme://", within the
    /// authority (up to the first '/', '?' or '#'), between the first ':' of the user information
    /// and the last '@'. This reads the text rather than <see cref="Uri"/>, which would normalise
    /// the rest of the URL and lose what the client wrote.
    /// </summary>
    static (int Start, int End, int Length) FindPassword(string url)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return default;
        var authorityStart = scheme + 3;
        var authorityEnd = url.AsSpan(authorityStart).IndexOfAny('/', '?', '#');
        var authority = authorityEnd < 0 ? url.AsSpan(authorityStart) : url.AsSpan(authorityStart, authorityEnd);
        var at = authority.LastIndexOf('@');
        if (at < 0) return default;
        var colon = authority[..at].IndexOf(':');
        if (colon < 0) return default;
        var start = authorityStart + colon + 1;
        var end = authorityStart + at;
        return (start, end, end - start);
    }
}
