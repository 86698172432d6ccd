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
public sealed class ApiKeys : IDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    readonly string? _path;
    readonly ILogger _log;
    readonly ITimer? _poll;
    readonly PosixSignalRegistration? _hangup;
    readonly Lock _reload = new();
    byte[][] _digests = [];
    (DateTime Modified, long Length)? _seen;

    public ApiKeys(string? path, TimeProvider time, ILogger<ApiKeys> log)
    {
        _path = path;
        _log = log;
        if (path is null)
        {
            log.LogWarning("AUTH_KEYS_FILE is not set: every request but GET /health will be rejected with 401");
            return;
        }
        Reload(force: true);
        _poll = time.CreateTimer(_ => Reload(force: false), null, PollInterval, PollInterval);
        _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true; // SIGHUP means "re-read the keys", not "exit".
            Reload(force: true);
        });
    }

    public void Reload(bool force)
    {
        if (_path is null) return;
        lock (_reload)
        {
            (DateTime, long)? stamp;
            try
            {
                var info = new FileInfo(_path);
                stamp = info.Exists ? (info.LastWriteTimeUtc, info.Length) : null;
            }
            catch (IOException)
            {
                stamp = null;
            }
            if (!force && stamp == _seen) return;
            _seen = stamp;

            var digests = new List<byte[]>();
            try
            {
                foreach (var raw in File.ReadAllLines(_path))
                {
                    var line = raw.Trim();
                    if (line.Length == 0 || line.StartsWith('#')) continue;
                    digests.Add(SHA256.HashData(Encoding.UTF8.GetBytes(line)));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.LogWarning("AUTH_KEYS_FILE {Path} cannot be read ({Error}): every authenticated request is rejected", _path, e.Message);
            }
            var before = _digests.Length;
            Volatile.Write(ref _digests, digests.ToArray());
            if (digests.Count == 0)
                _log.LogWarning("AUTH_KEYS_FILE {Path} holds no key: every request but GET /health will be rejected with 401", _path);
            else if (!force || before != digests.Count)
                _log.LogInformation("API keys loaded from {Path}: {Count}", _path, digests.Count);
        }
    }

    /// <summary>True when the request carries a known key in <c>Authorization: ApiKey …</c> or <c>X-API-Key</c>.</summary>
    public bool Accepts(IHeaderDictionary headers)
    {
        var digests = Volatile.Read(ref _digests);
        if (digests.Length == 0) return false;
        string? key = null;
        var authorization = headers.Authorization.ToString();
        if (authorization.Length > 7 && authorization.StartsWith("ApiKey ", StringComparison.OrdinalIgnoreCase))
            key = authorization[7..].Trim();
        else if (headers.TryGetValue("X-API-Key", out var header))
            key = header.ToString().Trim();
        if (string.IsNullOrEmpty(key) || key.Length > 4096) return false;

        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), digest);
        var match = false;
        foreach (var known in digests)
            match |= CryptographicOperations.FixedTimeEquals(digest, known);
        return match;
    }

    public void Dispose()
    {
        _poll?.Dispose();
        _hangup?.Dispose();
    }
}

/// <summary>Every endpoint but GET /health needs a key; a request without one gets 401 and a problem body.</summary>
public static class ApiKeyAuth
{
    public static IApplicationBuilder UseApiKeys(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Request.Path.Equals("/health", StringComparison.Ordinal)
            || context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null
            || context.RequestServices.GetRequiredService<ApiKeys>().Accepts(context.Request.Headers))
        {
            await next(context);
            return;
        }
        // Failed authentication is throttled per client address (SPEC §10); a valid key never is.
        var throttle = context.RequestServices.GetRequiredService<Trust.AuthThrottle>();
        var client = context.Connection.RemoteIpAddress ?? System.Net.IPAddress.None;
        if (throttle.IsThrottled(client, out var wait))
        {
            var seconds = Trust.AuthThrottle.RetryAfterSeconds(wait);
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status429TooManyRequests,
                    Title = "Too Many Requests",
                    Detail = $"too many requests without a valid API key from this address; try again in {seconds} s",
                },
            });
            return;
        }
        throttle.RecordFailure(client);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "ApiKey";
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Unauthorized",
                Detail = "a valid API key is required: send Authorization: ApiKey <key> or X-API-Key: <key>",
            },
        });
    });
}
