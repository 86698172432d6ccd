using Npgsql;

namespace Ksana.Cluster;

/// <summary>
/// DATABASE_URL (SPEC §12): <c>postgres://user:password@host:port/database</c>, as libpq and most
/// hosting services write it. User and password are percent-decoded; a query may add
/// <c>sslmode</c>, or <c>host</c> naming a Unix socket directory (<c>?host=/run/postgresql</c>).
/// Timeouts are short on purpose: a node that cannot reach the database must notice within a
/// lease, not after a TCP time-out.
/// </summary>
public static class DatabaseUrl
{
    /// <summary>Null when <paramref name="url"/> is usable, else why not (never echoing the password).</summary>
    public static string? Check(string url)
    {
        try
        {
            _ = ConnectionString(url);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    public static string ConnectionString(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgres" or "postgresql"))
            throw new FormatException("must be a URL like postgres://user:password@host:5432/database");
        var b = new NpgsqlConnectionStringBuilder
        {
            Timeout = 5,
            CommandTimeout = 10,
            KeepAlive = 5,
            MaxPoolSize = 20,
            ApplicationName = "ksana",
            // Every statement Ksana sends is written for it; no extra round trip to reset a session.
            NoResetOnClose = true,
            // The same few statements run all the time (claims, batches, lease rounds): prepare them.
            MaxAutoPrepare = 32,
            AutoPrepareMinUsages = 3,
        };
        var host = uri.Host;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            b.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0) b.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || database.Contains('/')) throw new FormatException("must name the database: postgres://user:password@host:5432/database");
        b.Database = database;
        if (!uri.IsDefaultPort && uri.Port > 0) b.Port = uri.Port;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var name = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            switch (name)
            {
                case "host": host = value; break;
                case "sslmode":
                    b.SslMode = value switch
                    {
                        "disable" => SslMode.Disable,
                        "allow" => SslMode.Allow,
                        "prefer" => SslMode.Prefer,
                        "require" => SslMode.Require,
                        "verify-ca" => SslMode.VerifyCA,
                        "verify-full" => SslMode.VerifyFull,
                        _ => throw new FormatException($"sslmode={value}: must be disable, allow, prefer, require, verify-ca or verify-full"),
                    };
                    break;
                case "application_name": b.ApplicationName = value; break;
                default: throw new FormatException($"unknown query parameter \"{name}\" (known: host, sslmode, application_name)");
            }
        }
        if (host.Length == 0) throw new FormatException("must name a host: postgres://user:password@host:5432/database");
        b.Host = host;
        return b.ConnectionString;
    }

    /// <summary>The URL with its password replaced, for logs.</summary>
    public static string Redacted(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.UserInfo.Contains(':')
            ? url.Replace(uri.UserInfo, uri.UserInfo[..uri.UserInfo.IndexOf(':')] + ":***", StringComparison.Ordinal)
            : url;
}
