using System.Collections;
using System.Globalization;
using Ksana.Http.Trust;
using Ksana.Scheduling;
using Ksana.Wire;

namespace Ksana.Hosting;

/// <summary>
/// Start-up configuration (SPEC §1). Each setting comes from an environment variable or from the
/// matching <c>--kebab-case</c> flag; the flag wins. Bad values stop start-up with one line that
/// names the variable (exit code 2), so a typo never runs with a silent default.
/// </summary>
public sealed record Settings
{
    public int Port { get; init; } = 7100;
    public string? Urls { get; init; }
    public string DataDir { get; init; } = "./data";
    public string? AuthKeysFile { get; init; }
    public int Workers { get; init; } = 32;
    public Duration DefaultTimeout { get; init; } = Duration.FromSeconds(10);
    public int MaxRetries { get; init; } = 3;
    public Duration RetryBackoff { get; init; } = Duration.FromSeconds(5);
    public int MaxJobs { get; init; } = 1_000_000;
    public int RunsKept { get; init; } = 20;
    public string LogFormat { get; init; } = "text";
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    public Uri? EventsUrl { get; init; }

    // Delivery trust (SPEC §8, §10): kept as given; KsanaHost builds the signer and the policy from them.
    public string? SigningKeysFile { get; init; }
    public string? OutboundDeny { get; init; }
    public string? OutboundAllow { get; init; }
    /// <summary>Most attempts in flight to one (scheme, host, port); null: no cap but WORKERS.</summary>
    public int? HostConcurrency { get; init; }
    /// <summary>Serve GET /metrics without a key (SPEC §11), for a scraper on a trusted network.</summary>
    public bool MetricsPublic { get; init; }

    // Cluster mode (SPEC §12): with a database URL, state lives in PostgreSQL and nodes share it.
    /// <summary>DATABASE_URL as given (it may hold a password: never logged); null: the journal in DATA_DIR.</summary>
    public string? DatabaseUrl { get; init; }
    public string NodeName { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}";
    public Duration LeaseTtl { get; init; } = Duration.FromSeconds(10);
    public static readonly Duration LeaseTtlMin = Duration.FromSeconds(1);
    public static readonly Duration LeaseTtlMax = Duration.FromSeconds(300);

    /// <summary>Per-attempt timeouts and backoffs are capped here; so is the drain on SIGTERM.</summary>
    public static readonly Duration DurationMin = Duration.FromMilliseconds(1);
    public static readonly Duration DurationMax = Duration.FromSeconds(3600);
    public const int WorkersMax = 10_000;
    public const int MaxRetriesMax = RetryPolicy.RetriesMax;

    public static string Version =>
        typeof(Settings).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>(variable, flag, meaning, default) for --help and for parsing.</summary>
    static readonly (string Env, string Help)[] Known =
    [
        ("PORT", "listening port (default 7100; ASPNETCORE_URLS / --urls also honoured)"),
        ("URLS", "explicit listen URLs, e.g. http://127.0.0.1:7100 (overrides PORT)"),
        ("DATA_DIR", "directory of the journal, created if missing (default ./data)"),
        ("AUTH_KEYS_FILE", "file of API keys, one per line (default: none, every call is rejected)"),
        ("WORKERS", "HTTP attempts in flight at once (default 32)"),
        ("DEFAULT_TIMEOUT", "per-attempt timeout for jobs that give none (default 10s)"),
        ("MAX_RETRIES", "retries for jobs that give no max_retries (default 3)"),
        ("RETRY_BACKOFF", "first retry delay for jobs that give no retry_backoff (default 5s)"),
        ("MAX_JOBS", "most jobs kept at once (default 1000000)"),
        ("RUNS_KEPT", "most recent runs kept per job (default 20)"),
        ("LOG_FORMAT", "text or json (default text)"),
        ("LOG_LEVEL", "trace, debug, information, warning, error (default information)"),
        ("EVENTS_URL", "where Ksana posts its own events: run.failed, job.paused, job.recovered (default: none)"),
        ("SIGNING_KEYS_FILE", "Standard Webhooks secrets (whsec_...), one per line (default: callbacks unsigned)"),
        ("OUTBOUND_DENY", "CIDR ranges and loopback, private, link-local, none that callbacks may not reach (default link-local)"),
        ("OUTBOUND_ALLOW", "CIDR ranges callbacks may reach even inside a denied range (default none)"),
        ("HOST_CONCURRENCY", "most attempts in flight to one host (default: no cap but WORKERS)"),
        ("METRICS_PUBLIC", "true serves /metrics without a key (default false)"),
        ("DATABASE_URL", "postgres://user:password@host:port/database: cluster mode, state in PostgreSQL (default: journal)"),
        ("NODE_NAME", "this node's name in cluster mode (default: host name and process id)"),
        ("LEASE_TTL", "how long a dead node's jobs wait for another node in cluster mode (default 10s)"),
    ];

    public static string HelpText()
    {
        var lines = new List<string>
        {
            $"ksana {Version}: a self-hosted HTTP job scheduler",
            "",
            "usage: ksana [--flag value | --flag=value]... | --help | --version",
            "       ksana migrate --from DATA_DIR --to DATABASE_URL   (copy a journal into an empty PostgreSQL)",
            "",
            "Each setting is an environment variable or the matching --kebab-case flag (the flag wins):",
        };
        foreach (var (env, help) in Known)
            lines.Add($"  {env,-16} --{Flag(env),-17} {help}");
        lines.Add("");
        lines.Add("Durations are Go duration strings (300ms, 1m30s, 2h). Docs: README.md.");
        return string.Join('\n', lines);
    }

    static string Flag(string env) => env.ToLowerInvariant().Replace('_', '-');

    /// <summary>
    /// Reads the environment and the command line. Returns null and sets <paramref name="error"/>
    /// to a one-line reason naming the variable when anything is wrong.
    /// </summary>
    public static Settings? Load(string[] args, IDictionary environment, out string error)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (env, _) in Known)
            if (environment[env] is string v)
                values[env] = v;
        if (environment["ASPNETCORE_URLS"] is string aspUrls && !values.ContainsKey("URLS"))
            values["URLS"] = aspUrls;

        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                error = $"unexpected argument \"{arg}\" (see --help)";
                return null;
            }
            var eq = arg.IndexOf('=');
            var name = eq < 0 ? arg[2..] : arg[2..eq];
            var env = Array.Find(Known, k => Flag(k.Env) == name).Env;
            if (env is null)
            {
                error = $"unknown flag --{name} (see --help)";
                return null;
            }
            string value;
            if (eq >= 0) value = arg[(eq + 1)..];
            else if (i + 1 < args.Length) value = args[++i];
            else
            {
                error = $"--{name} needs a value";
                return null;
            }
            values[env] = value;
        }

        var s = new Settings();
        error = "";
        foreach (var (key, raw) in values)
        {
            var value = raw.Trim();
            string? problem = null;
            s = key switch
            {
                "PORT" => Int(value, 1, 65535, ref problem) is { } p ? s with { Port = p } : s,
                "URLS" => value.Length > 0 ? s with { Urls = value } : s,
                "DATA_DIR" => value.Length > 0 ? s with { DataDir = value } : Fail(s, "must not be empty", ref problem),
                "AUTH_KEYS_FILE" => value.Length > 0 ? s with { AuthKeysFile = value } : s,
                "WORKERS" => Int(value, 1, WorkersMax, ref problem) is { } w ? s with { Workers = w } : s,
                "DEFAULT_TIMEOUT" => ReadDuration(value, ref problem) is { } t ? s with { DefaultTimeout = t } : s,
                "MAX_RETRIES" => Int(value, 0, MaxRetriesMax, ref problem) is { } r ? s with { MaxRetries = r } : s,
                "RETRY_BACKOFF" => ReadDuration(value, ref problem) is { } b ? s with { RetryBackoff = b } : s,
                "MAX_JOBS" => Int(value, 1, 10_000_000, ref problem) is { } m ? s with { MaxJobs = m } : s,
                "RUNS_KEPT" => Int(value, 1, 1000, ref problem) is { } k ? s with { RunsKept = k } : s,
                "LOG_FORMAT" => value is "text" or "json" ? s with { LogFormat = value } : Fail(s, "must be text or json", ref problem),
                "LOG_LEVEL" => Level(value, ref problem) is { } l ? s with { LogLevel = l } : s,
                "EVENTS_URL" => value.Length == 0 ? s
                    : Uri.TryCreate(value, UriKind.Absolute, out var events) && events.Scheme is "http" or "https" ? s with { EventsUrl = events }
                    : Fail(s, "must be an absolute http:// or https:// URL", ref problem),
                "SIGNING_KEYS_FILE" => value.Length == 0 ? s
                    : SigningKeys.Check(value) is { } bad ? Fail(s, bad, ref problem) : s with { SigningKeysFile = value },
                "OUTBOUND_DENY" => Outbound(value, null, ref problem) ? s with { OutboundDeny = value } : s,
                "OUTBOUND_ALLOW" => Outbound(null, value, ref problem) ? s with { OutboundAllow = value } : s,
                "HOST_CONCURRENCY" => value.Length == 0 ? s
                    : Int(value, 1, WorkersMax, ref problem) is { } h ? s with { HostConcurrency = h } : s,
                "DATABASE_URL" => value.Length == 0 ? s
                    : Cluster.DatabaseUrl.Check(value) is { } badUrl ? Fail(s, badUrl, ref problem) : s with { DatabaseUrl = value },
                "NODE_NAME" => value.Length is > 0 and <= 200 && !value.Any(char.IsControl) ? s with { NodeName = value }
                    : Fail(s, "must be 1 to 200 characters, none of them control characters", ref problem),
                "LEASE_TTL" => !Duration.TryParse(value, out var ttl, out var ttlWhy) ? Fail(s, $"{ttlWhy} (a Go duration such as 10s)", ref problem)
                    : ttl < LeaseTtlMin || ttl > LeaseTtlMax ? Fail(s, $"must be from {LeaseTtlMin} to {LeaseTtlMax}", ref problem)
                    : s with { LeaseTtl = ttl },
                "METRICS_PUBLIC" => value is "true" or "false" ? s with { MetricsPublic = value == "true" } : Fail(s, "must be true or false", ref problem),
                _ => s,
            };
            if (problem is not null)
            {
                // A database URL may hold a password: its value is never echoed.
                error = key == "DATABASE_URL" ? $"{key}: {problem}" : $"{key}={raw}: {problem}";
                return null;
            }
        }
        return s;
    }

    static Settings Fail(Settings s, string why, ref string? problem)
    {
        problem = why;
        return s;
    }

    /// <summary>Parses one of the two lists as the policy will; the policy's own message already names the variable.</summary>
    static bool Outbound(string? deny, string? allow, ref string? problem)
    {
        if (OutboundPolicy.Parse(deny, allow, OwnEndpoints.None, out var why) is not null) return true;
        var colon = why.IndexOf(": ", StringComparison.Ordinal);
        problem = colon < 0 ? why : why[(colon + 2)..];
        return false;
    }

    static int? Int(string value, int min, int max, ref string? problem)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
            return n;
        problem = $"must be a whole number from {min} to {max}";
        return null;
    }

    static Duration? ReadDuration(string value, ref string? problem)
    {
        if (Duration.Refusal(value, DurationMin, DurationMax, out var d) is { } why)
        {
            problem = why;
            return null;
        }
        return d;
    }

    static LogLevel? Level(string value, ref string? problem)
    {
        if (Enum.TryParse<LogLevel>(value, ignoreCase: true, out var level) && Enum.IsDefined(level))
            return level;
        problem = "must be one of trace, debug, information, warning, error, critical, none";
        return null;
    }
}
