using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Ksana.Http;

/// <summary>
/// The API keys of AUTH_KEYS_FILE (SPEC §3). Only SHA-256 digests are kept, and a presented key is
/// compared against every one of them in constant time, so neither timing nor a memory dump gives a
/// key away. The file is re-read when its size or modification time changes (checked every second)
/// and on SIGHUP, so keys rotate without a restart.
/// </summary>
/// <remarks>
/// A line may name a scope after the key, separated by white space: <c>read</c> or <c>admin</c>
/// (SPEC §3). A line whose last word is neither is one key, spaces and all, as it always was.
/// </remarks>
public sealed class ApiKeys : IDisposable
{
    public static readonly TimeSpan PollInterval = WatchedFile.PollInterval;

    readonly string? _path;
    readonly ILogger _log;
    readonly WatchedFile? _file;
    KeySet _keys = KeySet.None;

    /// <summary>
    /// The keys of one reading of the file, published whole: each key's digest, its scope, and the
    /// identity a request with that key gets (computed here once rather than on every request).
    /// </summary>
    sealed record KeySet(byte[][] Digests, KeyScope[] Scopes, string[] Identities)
    {
        public static readonly KeySet None = new([], [], []);
    }

    public ApiKeys(string? path, TimeProvider time, ILogger<ApiKeys> log)
    {
        _path = path;
        _log = log;
        if (path is null)
        {
            log.LogWarning("AUTH_KEYS_FILE is not set: every request but GET /health will be rejected with 401");
            return;
        }
        _file = new WatchedFile(path, time, OnChanged);
    }

    /// <summary>Re-reads the file now if it changed, or whatever it holds when <paramref name="force"/> (SIGHUP, tests).</summary>
    public void Reload(bool force) => _file?.Check(force);

    void OnChanged(bool force, long? length)
    {
        if (_path is null) return;
        {

            var digests = new List<byte[]>();
            var scopes = new List<KeyScope>();
            try
            {
                foreach (var raw in File.ReadAllLines(_path))
                {
                    var line = raw.Trim();
                    if (line.Length == 0 || line.StartsWith('#')) continue;
                    var (key, scope) = Parse(line);
                    digests.Add(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
                    scopes.Add(scope);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.LogWarning("AUTH_KEYS_FILE {Path} cannot be read ({Error}): every authenticated request is rejected", _path, e.Message);
            }
            var before = _keys.Digests.Length;
            // A second hash, so what is stored elsewhere (idempotency records are per key) is not the digest that unlocks this server.
            var identities = digests.Select(d => Convert.ToHexStringLower(SHA256.HashData(d).AsSpan(0, 16))).ToArray();
            Volatile.Write(ref _keys, new KeySet([.. digests], [.. scopes], identities));
            if (digests.Count == 0)
                _log.LogWarning("AUTH_KEYS_FILE {Path} holds no key: every request but GET /health will be rejected with 401", _path);
            else if (!force || before != digests.Count)
                _log.LogInformation("API keys loaded from {Path}: {Count}", _path, digests.Count);
        }
    }

    /// <summary>Told of each request refused for a missing or wrong key (metrics); nobody by default.</summary>
    public Action? Refused { get; set; }

    /// <summary>"<c>key</c>", "<c>key read</c>" or "<c>key admin</c>": the key and what it may do.</summary>
    static (string Key, KeyScope Scope) Parse(string line)
    {
        var space = line.AsSpan().LastIndexOfAny(' ', '\t');
        if (space < 0) return (line, KeyScope.Admin);
        var word = line.AsSpan(space + 1);
        var key = line[..space].TrimEnd();
        if (word.SequenceEqual("read")) return (key, KeyScope.Read);
        if (word.SequenceEqual("admin")) return (key, KeyScope.Admin);
        return (line, KeyScope.Admin);
    }

    /// <summary>True when the request carries a known key in <c>Authorization: ApiKey …</c> or <c>X-API-Key</c>.</summary>
    public bool Accepts(IHeaderDictionary headers) => Check(headers) is not null;

    /// <summary>
    /// The scope and an identity of the key the request carries, or null when it carries no known key.
    /// The identity is a digest of the key, not the key: safe to keep (idempotency records are per key).
    /// </summary>
    public (KeyScope Scope, string Identity)? Check(IHeaderDictionary headers)
    {
        var keys = Volatile.Read(ref _keys);
        var digests = keys.Digests;
        if (digests.Length == 0) return null;
        string? key = null;
        var authorization = headers.Authorization.ToString();
        if (authorization.Length > 7 && authorization.StartsWith("ApiKey ", StringComparison.OrdinalIgnoreCase))
            key = authorization[7..].Trim();
        else if (headers.TryGetValue("X-API-Key", out var header))
            key = header.ToString().Trim();
        if (string.IsNullOrEmpty(key) || key.Length > 4096) return null;

        Span<byte> digest = stackalloc byte[32];
        Span<byte> utf8 = key.Length <= 256 ? stackalloc byte[key.Length * 3] : new byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(key, utf8)], digest);
        var match = -1;
        for (var i = 0; i < digests.Length; i++)
            if (CryptographicOperations.FixedTimeEquals(digest, digests[i]))
                match = i;
        if (match < 0) return null;
        return (keys.Scopes[match], keys.Identities[match]);
    }

    public void Dispose()
    {
        _file?.Dispose();
    }
}

/// <summary>What a key may do (SPEC §3).</summary>
public enum KeyScope
{
    /// <summary>Everything: the default for a key line without a scope.</summary>
    Admin,
    /// <summary>Only the safe methods (GET, HEAD, OPTIONS); anything else is a 403.</summary>
    Read,
}

/// <summary>
/// Every endpoint but GET /health (and those mapped anonymous) needs a key; a request without one
/// gets 401 and a problem body. A read key may only use the safe methods of RFC 9110 (GET, HEAD,
/// OPTIONS: none of them changes anything); anything else with it is a 403.
/// </summary>
public static class ApiKeyAuth
{
    /// <summary>The <see cref="HttpContext.Items"/> entry holding the key's scope: "read" or "admin" (the status page reads it).</summary>
    public const string ScopeItem = "ksana.scope";

    /// <summary>The <see cref="HttpContext.Items"/> entry holding a digest that identifies the request's key.</summary>
    public const string IdentityItem = "ksana.key";

    public static IApplicationBuilder UseApiKeys(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var keys = context.RequestServices.GetRequiredService<ApiKeys>();
        var checkedKey = keys.Check(context.Request.Headers);
        if (checkedKey is { } found)
        {
            context.Items[ScopeItem] = found.Scope == KeyScope.Read ? "read" : "admin";
            context.Items[IdentityItem] = found.Identity;
        }
        var open = context.Request.Path.Equals("/health", StringComparison.Ordinal)
            || context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null;
        if (checkedKey is { Scope: KeyScope.Read } && !open && !HttpMethods.IsGet(context.Request.Method)
            && !HttpMethods.IsHead(context.Request.Method) && !HttpMethods.IsOptions(context.Request.Method))
        {
            await Refuse(context, StatusCodes.Status403Forbidden, "Forbidden",
                $"this API key has the read scope: it may only GET; {context.Request.Method} needs an admin key");
            return;
        }
        if (open || checkedKey is not null)
        {
            await next(context);
            return;
        }
        keys.Refused?.Invoke();
        // Failed authentication is throttled per client address (SPEC §10); a valid key never is.
        var throttle = context.RequestServices.GetRequiredService<Trust.AuthThrottle>();
        var client = context.Connection.RemoteIpAddress ?? System.Net.IPAddress.None;
        if (throttle.IsThrottled(client, out var wait))
        {
            var seconds = Trust.AuthThrottle.RetryAfterSeconds(wait);
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Refuse(context, StatusCodes.Status429TooManyRequests, "Too Many Requests",
                $"too many requests without a valid API key from this address; try again in {seconds} s");
            return;
        }
        throttle.RecordFailure(client);
        context.Response.Headers.WWWAuthenticate = "ApiKey";
        await Refuse(context, StatusCodes.Status401Unauthorized, "Unauthorized",
            "a valid API key is required: send Authorization: ApiKey <key> or X-API-Key: <key>");
    });

    /// <summary>Answers a request the key check refuses (401, 403, 429) with a problem body.</summary>
    static Task Refuse(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        }).AsTask();
    }
}
