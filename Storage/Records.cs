using System.Text.Json.Serialization;
using Ksana.Scheduling;

namespace Ksana.Storage;

/// <summary>One journal line to write. Exactly one of <see cref="Job"/>, <see cref="Id"/> (a delete) or <see cref="RunRecord"/> is set.</summary>
public sealed class JournalLine
{
    public long Seq { get; set; }
    public string Op { get; set; } = "";
    public JobRecord? Job { get; set; }
    public string? Id { get; set; }
    public string? Crc { get; set; }

    /// <summary>A run to write: encoded by hand (<see cref="LineEncoder"/>), it is the hot record.</summary>
    [JsonIgnore]
    public Scheduling.Run? RunRecord { get; set; }
}

/// <summary>A job as written to the journal: the client fields in canonical form plus server state.</summary>
public sealed class JobRecord
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public bool Enabled { get; set; }
    public string Method { get; set; } = "";
    public string Url { get; set; } = "";
    public Dictionary<string, string>? Headers { get; set; }
    public string? Body { get; set; }
    public string Kind { get; set; } = "";
    public string? Every { get; set; }
    public string? RunAt { get; set; }
    public string? StartAt { get; set; }
    public string Timeout { get; set; } = "";
    public int MaxRetries { get; set; }
    public string RetryBackoff { get; set; } = "";
    public string CreatedAt { get; set; } = "";
    public string UpdatedAt { get; set; } = "";
    public string GridOrigin { get; set; } = "";
    public string Once { get; set; } = "pending";
}

/// <summary>A run record (SPEC §5). The journal and the API use the same shape.</summary>
public sealed class RunDocument
{
    public string RunId { get; set; } = "";
    public string JobId { get; set; } = "";
    public string Trigger { get; set; } = "";
    public string Status { get; set; } = "";
    public string ScheduledAt { get; set; } = "";
    public string? FinishedAt { get; set; }
    public string? Error { get; set; }
    public List<AttemptDocument> Attempts { get; set; } = [];
}

public sealed class AttemptDocument
{
    public int Attempt { get; set; }
    public string StartedAt { get; set; } = "";
    public long DurationMs { get; set; }
    public int? StatusCode { get; set; }
    public string? Error { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JournalLine))]
internal sealed partial class JournalJson : JsonSerializerContext;

/// <summary>Converts domain records to their journal/API documents (replay reads them back with <see cref="LineDecoder"/>).</summary>
public static class RecordMapping
{
    static string Time(DateTimeOffset t) => Rfc3339.Format(t);

    public static string Duration(TimeSpan t) => GoDuration.Format(GoDuration.FromTimeSpan(t));

    public static JobRecord ToRecord(Job job)
    {
        var spec = job.Spec;
        Dictionary<string, string>? headers = null;
        if (spec.Http.Headers.Count > 0)
        {
            headers = new Dictionary<string, string>(spec.Http.Headers.Count, StringComparer.Ordinal);
            foreach (var (k, v) in spec.Http.Headers) headers[k] = v;
        }
        var every = spec.Schedule.Kind == ScheduleKind.Every;
        return new JobRecord
        {
            Id = job.Id.ToString(),
            Name = spec.Name,
            Enabled = spec.Enabled,
            Method = spec.Http.Method,
            Url = spec.Http.Url,
            Headers = headers,
            Body = spec.Http.Body.Length == 0 ? null : spec.Http.Body,
            Kind = every ? "every" : "once",
            Every = every ? Duration(spec.Schedule.Every) : null,
            RunAt = every ? null : Time(spec.Schedule.RunAt),
            StartAt = spec.Schedule.StartAt is { } s ? Time(s) : null,
            Timeout = Duration(spec.Timeout),
            MaxRetries = spec.MaxRetries,
            RetryBackoff = Duration(spec.RetryBackoff),
            CreatedAt = Time(job.CreatedAt),
            UpdatedAt = Time(job.UpdatedAt),
            GridOrigin = Time(job.GridOrigin),
            Once = job.Once switch { OnceOutcome.Fired => "fired", OnceOutcome.Missed => "missed", _ => "pending" },
        };
    }

    public static RunDocument ToDocument(Run run)
    {
        var attempts = new List<AttemptDocument>(run.Attempts.Length);
        foreach (var a in run.Attempts)
            attempts.Add(new AttemptDocument
            {
                Attempt = a.Number, StartedAt = Time(a.StartedAt), DurationMs = a.DurationMs,
                StatusCode = a.StatusCode, Error = a.Error,
            });
        return new RunDocument
        {
            RunId = Run.Text(run.RunId),
            JobId = run.JobId.ToString(),
            Trigger = run.Trigger == RunTrigger.Manual ? "manual" : "schedule",
            Status = StatusName(run.Status),
            ScheduledAt = Time(run.ScheduledAt),
            FinishedAt = run.FinishedAt is { } f ? Time(f) : null,
            Error = run.Error,
            Attempts = attempts,
        };
    }

    public static string StatusName(RunStatus s) => s switch
    {
        RunStatus.Running => "running",
        RunStatus.Retrying => "retrying",
        RunStatus.Succeeded => "succeeded",
        RunStatus.Failed => "failed",
        RunStatus.Skipped => "skipped",
        _ => "missed",
    };
}
