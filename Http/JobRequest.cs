using System.Text.Json;
using System.Text.Json.Nodes;
using Ksana.Hosting;
using Ksana.Http.Trust;
using Ksana.Scheduling;
using Ksana.Scheduling.Schedules;
using Ksana.Wire;

namespace Ksana.Http;

/// <summary>
/// Turns a client's JSON into a <see cref="JobSpec"/>, naming every bad field at once by its JSON
/// path. Written as plain code: AOT-safe, and it can say exactly what is wrong with each field.
/// </summary>
public sealed class JobRequest
{
    public const int NameLengthMax = 200;
    public const int KeyLengthMax = 200;
    public const int PauseAfterFailuresMax = 1000;
    public const int UrlLengthMax = 8192;
    public const int HeadersMax = 64;
    public const int HeaderValueLengthMax = 8192;
    public const int BodyLengthMax = 512 * 1024;

    static readonly string[] ClientFields = ["key", "name", "enabled", "type", "http", "schedule", "timeout", "max_retries", "retry_backoff", "pause_after_failures"];
    /// <summary>Server fields are accepted and ignored, so a job read back can be sent again.</summary>
    static readonly string[] ServerFields = ["id", "state", "paused_reason", "next_run_at", "last_run", "created_at", "updated_at"];
    static readonly string[] HttpFields = ["method", "url", "headers", "body"];
    static readonly HashSet<string> ForbiddenHeaders = new(StringComparer.OrdinalIgnoreCase)
        { "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Keep-Alive", "TE", "Trailer", "User-Agent" };

    readonly Dictionary<string, List<string>> _errors = [];
    readonly Settings _defaults;
    readonly DateTimeOffset _now;
    readonly JobSpec? _stored;
    readonly OutboundPolicy? _outbound;

    JobRequest(Settings defaults, DateTimeOffset now, JobSpec? stored, OutboundPolicy? outbound)
    {
        _defaults = defaults;
        _now = now;
        _stored = stored;
        _outbound = outbound;
    }

    /// <summary>
    /// Validates a whole job document. <paramref name="checkRunAt"/> is false when a PATCH leaves the
    /// schedule alone: a finished once job keeps its past run_at. <paramref name="stored"/> is the job
    /// an update replaces: a secret sent back as "****" keeps its stored value (SPEC §8); on a create
    /// (null) such a mask is an error. <paramref name="outbound"/> refuses a URL whose host is a
    /// literal address callbacks may not reach (SPEC §10).
    /// </summary>
    public static (JobSpec? Spec, Dictionary<string, string[]> Errors) Validate(
        JsonElement document, Settings defaults, DateTimeOffset now, bool checkRunAt = true,
        JobSpec? stored = null, OutboundPolicy? outbound = null)
    {
        var request = new JobRequest(defaults, now, stored, outbound);
        var spec = request.Read(document, checkRunAt);
        return (request._errors.Count == 0 ? spec : null, request.Errors());
    }

    /// <summary>As above, for a document built in memory (an upsert's body, a merged PATCH); null is no body.</summary>
    public static (JobSpec? Spec, Dictionary<string, string[]> Errors) Validate(
        JsonNode? document, Settings defaults, DateTimeOffset now, bool checkRunAt = true,
        JobSpec? stored = null, OutboundPolicy? outbound = null)
    {
        using var parsed = Parsed(document);
        return Validate(parsed.RootElement, defaults, now, checkRunAt, stored, outbound);
    }

    /// <summary>A node as a document to read (the JSON null for no node).</summary>
    static JsonDocument Parsed(JsonNode? node) =>
        JsonDocument.Parse(node is null ? "null" : node.ToJsonString());

    Dictionary<string, string[]> Errors()
    {
        var errors = new Dictionary<string, string[]>(_errors.Count);
        foreach (var (path, messages) in _errors) errors[path] = [.. messages];
        return errors;
    }

    /// <summary>
    /// Validates a schedule object alone, exactly as a create reads it (POST /schedules/preview):
    /// errors are named <c>schedule.&lt;member&gt;</c>.
    /// </summary>
    public static (Schedule? Schedule, Dictionary<string, string[]> Errors) ValidateSchedule(JsonNode? node, Settings defaults, DateTimeOffset now)
    {
        using var parsed = Parsed(node);
        var request = new JobRequest(defaults, now, stored: null, outbound: null);
        var schedule = request.ReadSchedule(Present(parsed.RootElement), checkRunAt: true);
        return (request._errors.Count == 0 ? schedule : null, request.Errors());
    }

    void Error(string path, string message)
    {
        if (!_errors.TryGetValue(path, out var list)) _errors[path] = list = [];
        list.Add(message);
    }

    JobSpec? Read(JsonElement root, bool checkRunAt)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            Error("$", "the request body must be a JSON object");
            return null;
        }
        foreach (var property in root.EnumerateObject())
            if (!Known(property, ClientFields) && !Known(property, ServerFields))
                Error(property.Name, $"unknown field \"{property.Name}\"{Suggest(property.Name, ClientFields)}");

        var key = Member(root, "key") is null ? null : String(root, "key", "key", required: true);
        if (key is not null && !IsKey(key))
            Error("key", $"must be 1 to {KeyLengthMax} characters of A-Z a-z 0-9 . _ - :");
        var name = String(root, "name", "name", required: true);
        if (name is not null && (name.Trim().Length == 0 || name.EnumerateRunes().Count() > NameLengthMax))
            Error("name", $"must be 1 to {NameLengthMax} characters, not blank");
        var enabled = Bool(root, "enabled", "enabled") ?? true;
        var type = String(root, "type", "type", required: false) ?? "http";
        if (type != "http") Error("type", $"must be \"http\" (the only job type), not \"{type}\"");
        var http = ReadHttp(Member(root, "http"));
        var schedule = ReadSchedule(Member(root, "schedule"), checkRunAt);
        var timeout = ReadDuration(root, "timeout") ?? _defaults.DefaultTimeout;
        var maxRetries = Int(root, "max_retries", 0, RetryPolicy.RetriesMax) ?? _defaults.MaxRetries;
        var backoff = ReadDuration(root, "retry_backoff") ?? _defaults.RetryBackoff;
        var pauseAfter = Int(root, "pause_after_failures", 0, PauseAfterFailuresMax) ?? 0;

        if (_errors.Count > 0 || name is null || http is not { } target || schedule is null) return null;
        return new JobSpec(name, enabled, target, schedule, timeout, maxRetries, backoff) { Key = key, PauseAfterFailures = pauseAfter };
    }

    HttpTarget? ReadHttp(JsonElement? node)
    {
        if (node is not { } http)
        {
            Error("http", "is required: {\"method\": \"POST\", \"url\": \"https://…\"}");
            return null;
        }
        if (http.ValueKind != JsonValueKind.Object)
        {
            Error("http", "must be an object");
            return null;
        }
        foreach (var property in http.EnumerateObject())
            if (!Known(property, HttpFields)) Error($"http.{property.Name}", $"unknown field \"{property.Name}\"{Suggest(property.Name, HttpFields)}");

        var given = String(http, "method", "http.method", required: false)?.ToUpperInvariant() ?? "GET";
        var method = Array.Find(HttpTarget.Methods, m => m == given);
        if (method is null) Error("http.method", $"must be one of {string.Join(' ', HttpTarget.Methods)}");

        var url = String(http, "url", "http.url", required: true);
        Uri? uri = null;
        if (url is not null)
        {
            if (url.Length > UrlLengthMax) Error("http.url", $"must be at most {UrlLengthMax} characters");
            else if (!Uri.TryCreate(url, UriKind.Absolute, out uri) || (uri.Scheme != "http" && uri.Scheme != "https") || uri.Host.Length == 0)
            {
                Error("http.url", "must be an absolute http:// or https:// URL");
                uri = null;
            }
        }
        // Secrets come back as "****" only where a stored value stands behind them, and only while
        // the URL still points at the same scheme, host and port: otherwise an edit could send a
        // secret nobody can read to a host of the editor's choosing.
        var kept = _stored is { Http: var storedHttp } && uri is not null && SameOrigin(storedHttp.Url, uri) ? storedHttp : (HttpTarget?)null;
        var noKeep = _stored is null ? Secrets.NothingToKeep
            : "**** keeps the stored value only while the URL's scheme, host and port stay the same: send the value again";
        if (url is not null && uri is not null)
        {
            if (Secrets.MergeUrl(kept?.Url, url, out var merged) is not null) Error("http.url", $"password: {noKeep}");
            else url = merged;
            if (_outbound?.CheckUrl(uri) is { } blocked) Error("http.url", blocked);
        }

        var headers = new List<KeyValuePair<string, string>>();
        switch (Member(http, "headers"))
        {
            case null:
                break;
            case { ValueKind: JsonValueKind.Object } map:
                if (map.GetPropertyCount() > HeadersMax) Error("http.headers", $"at most {HeadersMax} headers");
                foreach (var property in map.EnumerateObject())
                {
                    var (key, value) = (property.Name, property.Value);
                    var path = $"http.headers.{key}";
                    if (!IsToken(key)) Error(path, "is not a valid HTTP header name");
                    else if (key.StartsWith("X-Ksana-", StringComparison.OrdinalIgnoreCase)) Error(path, "X-Ksana-* headers are reserved for Ksana");
                    else if (ForbiddenHeaders.Contains(key)) Error(path, $"{key} is set by Ksana itself");
                    if (value.ValueKind != JsonValueKind.String)
                        Error(path, "must be a string");
                    else
                    {
                        var text = value.GetString()!;
                        if (text.Length > HeaderValueLengthMax || text.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
                            Error(path, $"must be at most {HeaderValueLengthMax} characters, without line breaks");
                        if (text == Secrets.Mask && Secrets.IsSensitiveHeader(key))
                        {
                            var stored = kept?.Headers.FirstOrDefault(h => h.Key.Equals(key, StringComparison.OrdinalIgnoreCase)).Value;
                            if (stored is null) Error(path, noKeep);
                            else text = stored;
                        }
                        headers.Add(new(key, text));
                    }
                }
                break;
            default:
                Error("http.headers", "must be an object of header names to string values");
                break;
        }

        var body = String(http, "body", "http.body", required: false) ?? "";
        if (body.Length > BodyLengthMax) Error("http.body", $"must be at most {BodyLengthMax} characters");
        return url is null || method is null ? null : new HttpTarget(method, url, headers.Count == 0 ? [] : headers.ToArray(), body);
    }

    /// <summary>The schedule object goes to its kind's codec, which the journal reads through too.</summary>
    Schedule? ReadSchedule(JsonElement? node, bool checkRunAt)
    {
        if (node is not { } schedule)
        {
            Error("schedule", $"is required: {string.Join(" or ", ScheduleCodec.All.Select(c => c.Example))}");
            return null;
        }
        if (schedule.ValueKind != JsonValueKind.Object)
        {
            Error("schedule", "must be an object");
            return null;
        }
        var fields = new ScheduleFields(_now, checkRunAt, _errors);
        foreach (var property in schedule.EnumerateObject())
        {
            var (key, value) = (property.Name, property.Value);
            if (value.ValueKind == JsonValueKind.String) fields.Add(key, value.GetString()!);
            else fields.AddNotText(key, Kind(value));
        }
        return ScheduleCodec.Read(fields);
    }

    /// <summary>Member <paramref name="key"/> of an object, or null when it is absent or JSON null (both mean "not given").</summary>
    static JsonElement? Member(JsonElement obj, string key) =>
        obj.TryGetProperty(key, out var value) ? Present(value) : null;

    static JsonElement? Present(JsonElement value) =>
        value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined ? null : value;

    /// <summary>Whether the member's name is one of <paramref name="names"/>, without making a string of it.</summary>
    static bool Known(JsonProperty property, string[] names)
    {
        foreach (var name in names)
            if (property.NameEquals(name)) return true;
        return false;
    }

    string? String(JsonElement obj, string key, string path, bool required)
    {
        if (Member(obj, key) is not { } node)
        {
            if (required) Error(path, "is required");
            return null;
        }
        if (node.ValueKind == JsonValueKind.String) return node.GetString();
        Error(path, $"must be a string, not {Kind(node)}");
        return null;
    }

    bool? Bool(JsonElement obj, string key, string path)
    {
        if (Member(obj, key) is not { } node) return null;
        if (node.ValueKind is JsonValueKind.True or JsonValueKind.False) return node.GetBoolean();
        Error(path, $"must be true or false, not {Kind(node)}");
        return null;
    }

    int? Int(JsonElement obj, string key, int min, int max)
    {
        if (Member(obj, key) is not { } node) return null;
        if (node.ValueKind == JsonValueKind.Number && node.TryGetInt32(out var n) && n >= min && n <= max)
            return n;
        Error(key, $"must be a whole number from {min} to {max}");
        return null;
    }

    /// <summary>timeout and retry_backoff: from 1ms to an hour.</summary>
    Duration? ReadDuration(JsonElement obj, string key)
    {
        var text = String(obj, key, key, required: false);
        if (text is null) return null;
        if (Duration.Refusal(text, Settings.DurationMin, Settings.DurationMax, out var value) is { } why)
        {
            Error(key, why);
            return null;
        }
        return value;
    }

    /// <summary>True when <paramref name="url"/> is called on the same scheme, host and port as <paramref name="stored"/>.</summary>
    static bool SameOrigin(string stored, Uri url) =>
        Uri.TryCreate(stored, UriKind.Absolute, out var before)
        && Uri.Compare(before, url, UriComponents.SchemeAndServer | UriComponents.Port, UriFormat.SafeUnescaped, StringComparison.OrdinalIgnoreCase) == 0;

    static string Kind(JsonElement node) => node.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>A job key (SPEC §2): 1–200 characters of A–Z a–z 0–9 . _ - :, so it is safe in a URL path.</summary>
    public static bool IsKey(string key)
    {
        if (key.Length is 0 or > KeyLengthMax) return false;
        foreach (var c in key)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':')) return false;
        return true;
    }

    static bool IsToken(string name)
    {
        if (name.Length == 0 || name.Length > 256) return false;
        foreach (var c in name)
            if (c > 126 || c <= 32 || "()<>@,;:\\\"/[]?={}".Contains(c)) return false;
        return true;
    }

    /// <summary>" (did you mean max_retries?)" for a near miss such as max_retry.</summary>
    static string Suggest(string key, IEnumerable<string> known)
    {
        var best = known.MinBy(k => Distance(k, key));
        return best is not null && Distance(best, key) <= Math.Max(2, key.Length / 3) ? $" (did you mean \"{best}\"?)" : "";
    }

    static int Distance(string a, string b)
    {
        var d = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) d[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            var previous = d[0];
            d[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var current = d[j];
                d[j] = Math.Min(Math.Min(d[j] + 1, d[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }
        return d[b.Length];
    }
}
