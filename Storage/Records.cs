using System.Text.Json.Serialization;
using Ksana.Scheduling;

namespace Ksana.Storage;

/// <summary>One journal line. Exactly one of <see cref="Job"/>, <see cref="Id"/> (a delete) or <see cref="Run"/> is set.</summary>
public sealed class JournalLine
{
    public long Seq { get; set; }
    public string Op { get; set; } = "";
    public JobRecord? Job { get; set; }
    public string? Id { get; set; }
    public RunDocument? Run { get; set; }
    public string? Crc { get; set; }
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
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(JournalLine))]
internal sealed partial class JournalJson : JsonSerializerContext;

/// <summary>Converts between the domain records and their journal/API documents.</summary>
public static class RecordMapping
{
    static string Time(DateTimeOffset t) => Rfc3339.Format(t);

    static DateTimeOffset ParseTime(string s, string field) =>
        Rfc3339.TryParse(s, out var t, out var error) ? t : throw new FormatException($"{field}: {error}");

    static TimeSpan ParseDuration(string s, string field) =>
        GoDuration.TryParse(s, out var ns, out var error) ? GoDuration.ToTimeSpan(ns) : throw new FormatException($"{field}: {error}");

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

    public static Job FromRecord(JobRecord r, long seq)
    {
        var schedule = r.Kind switch
        {
            "every" => Schedule.EveryInterval(ParseDuration(r.Every ?? "", "every"),
                r.StartAt is null ? null : ParseTime(r.StartAt, "start_at")),
            "once" => Schedule.OnceAt(ParseTime(r.RunAt ?? "", "run_at")),
            _ => throw new FormatException($"kind: unknown schedule kind \"{r.Kind}\""),
        };
        var headers = r.Headers is null ? (IReadOnlyList<KeyValuePair<string, string>>)[] : r.Headers.ToArray();
        var spec = new JobSpec(r.Name, r.Enabled, new HttpTarget(r.Method, r.Url, headers, r.Body ?? ""), schedule,
            ParseDuration(r.Timeout, "timeout"), r.MaxRetries, ParseDuration(r.RetryBackoff, "retry_backoff"));
        var once = r.Once switch
        {
            "fired" => OnceOutcome.Fired,
            "missed" => OnceOutcome.Missed,
            "pending" => OnceOutcome.Pending,
            _ => throw new FormatException($"once: unknown value \"{r.Once}\""),
        };
        return new Job(Guid.Parse(r.Id), spec, ParseTime(r.CreatedAt, "created_at"), ParseTime(r.UpdatedAt, "updated_at"),
            ParseTime(r.GridOrigin, "grid_origin"), once, seq);
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
            RunId = run.RunId,
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

    public static Run FromDocument(RunDocument d, long seq)
    {
        var status = d.Status switch
        {
            "running" => RunStatus.Running,
            "retrying" => RunStatus.Retrying,
            "succeeded" => RunStatus.Succeeded,
            "failed" => RunStatus.Failed,
            "skipped" => RunStatus.Skipped,
            "missed" => RunStatus.Missed,
            _ => throw new FormatException($"status: unknown run status \"{d.Status}\""),
        };
        var attempts = new Attempt[d.Attempts.Count];
        for (var i = 0; i < attempts.Length; i++)
        {
            var a = d.Attempts[i];
            attempts[i] = new Attempt(a.Attempt, ParseTime(a.StartedAt, "started_at"), a.DurationMs, a.StatusCode, a.Error);
        }
        return new Run(d.RunId, Guid.Parse(d.JobId), d.Trigger == "manual" ? RunTrigger.Manual : RunTrigger.Schedule,
            status, ParseTime(d.ScheduledAt, "scheduled_at"), d.FinishedAt is null ? null : ParseTime(d.FinishedAt, "finished_at"),
            attempts, d.Error, seq);
    }
}
