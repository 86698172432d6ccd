using System.Text.Json.Serialization;
using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Http;

/// <summary>A job as the API returns it (SPEC §2). Server fields follow the client fields.</summary>
public sealed class JobView
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public bool Enabled { get; set; }
    public string Type { get; set; } = "http";
    public HttpView Http { get; set; } = new();
    public ScheduleView Schedule { get; set; } = new();
    public string Timeout { get; set; } = "";
    public int MaxRetries { get; set; }
    public string RetryBackoff { get; set; } = "";
    public string State { get; set; } = "";
    public string? NextRunAt { get; set; }
    public RunDocument? LastRun { get; set; }
    public string CreatedAt { get; set; } = "";
    public string UpdatedAt { get; set; } = "";

    public static JobView From(JobEntry entry, DateTimeOffset? nextRunAt)
    {
        var job = entry.Job;
        var lastRun = entry.Runs.Length > 0 ? entry.Runs[0] : null;
        var spec = job.Spec;
        var every = spec.Schedule.Kind == ScheduleKind.Every;
        var headers = new Dictionary<string, string>(spec.Http.Headers.Count, StringComparer.Ordinal);
        foreach (var (k, v) in spec.Http.Headers) headers[k] = v;
        return new JobView
        {
            Id = job.Id.ToString(),
            Name = spec.Name,
            Enabled = spec.Enabled,
            Http = new HttpView { Method = spec.Http.Method, Url = spec.Http.Url, Headers = headers, Body = spec.Http.Body },
            Schedule = new ScheduleView
            {
                Kind = every ? "every" : "once",
                Every = every ? RecordMapping.Duration(spec.Schedule.Every) : null,
                RunAt = every ? null : Rfc3339.Format(spec.Schedule.RunAt),
                StartAt = spec.Schedule.StartAt is { } s ? Rfc3339.Format(s) : null,
            },
            Timeout = RecordMapping.Duration(spec.Timeout),
            MaxRetries = spec.MaxRetries,
            RetryBackoff = RecordMapping.Duration(spec.RetryBackoff),
            State = StateName(entry.State),
            NextRunAt = nextRunAt is { } n ? Rfc3339.Format(n) : null,
            LastRun = lastRun is null ? null : RecordMapping.ToDocument(lastRun),
            CreatedAt = Rfc3339.Format(job.CreatedAt),
            UpdatedAt = Rfc3339.Format(job.UpdatedAt),
        };
    }

    public static string StateName(JobState state) => state switch
    {
        JobState.Scheduled => "scheduled",
        JobState.Paused => "paused",
        JobState.Completed => "completed",
        _ => "missed",
    };
}

public sealed class HttpView
{
    public string Method { get; set; } = "";
    public string Url { get; set; } = "";
    public Dictionary<string, string> Headers { get; set; } = [];
    public string Body { get; set; } = "";
}

public sealed class ScheduleView
{
    public string Kind { get; set; } = "";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Every { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? RunAt { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StartAt { get; set; }
}

public sealed class JobList
{
    public List<JobView> Jobs { get; set; } = [];
    public string? NextCursor { get; set; }
}

public sealed class RunList
{
    public List<RunDocument> Runs { get; set; } = [];
}

public sealed class RunStarted
{
    public string RunId { get; set; } = "";
}

public sealed class Health
{
    public string Status { get; set; } = "ok";
}

/// <summary>Every type that crosses the API, source-generated: no reflection, no trim warnings.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(JobView))]
[JsonSerializable(typeof(JobList))]
[JsonSerializable(typeof(RunList))]
[JsonSerializable(typeof(RunStarted))]
[JsonSerializable(typeof(Health))]
internal sealed partial class KsanaJson : JsonSerializerContext;
