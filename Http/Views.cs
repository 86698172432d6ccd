using System.Text.Json;
using System.Text.Json.Serialization;
using Ksana.Records;
using Ksana.Scheduling;
using Ksana.Wire;

namespace Ksana.Http;

/// <summary>
/// A job as the API returns it (SPEC §2): the client fields as <see cref="JobCodec"/> writes them,
/// then the server's. Written by hand through the codec, so the API and the journal cannot drift.
/// </summary>
[JsonConverter(typeof(JobViewConverter))]
public sealed class JobView(JobEntry entry, DateTimeOffset? nextRunAt)
{
    public JobEntry Entry { get; } = entry;
    public DateTimeOffset? NextRunAt { get; } = nextRunAt;
}

public sealed class JobViewConverter : JsonConverter<JobView>
{
    public override JobView Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("A job view is written, never read: requests are validated by JobRequest.");

    public override void Write(Utf8JsonWriter w, JobView view, JsonSerializerOptions options)
    {
        var entry = view.Entry;
        var job = entry.Job;
        w.WriteStartObject();
        w.WriteString("id"u8, job.Id);
        // Secrets are write-only (SPEC §8): the journal keeps them, answers show "****".
        JobCodec.WriteClientFields(w, Trust.Secrets.Masked(job.Spec));
        w.WriteString("state"u8, Names.Of(entry.State));
        if (job.PausedReason is { } reason) w.WriteString("paused_reason"u8, reason);
        else w.WriteNull("paused_reason"u8);
        if (view.NextRunAt is { } next) Rfc3339.Write(w, "next_run_at"u8, next);
        else w.WriteNull("next_run_at"u8);
        w.WritePropertyName("last_run"u8);
        if (entry.Runs is [var last, ..]) RunCodec.Write(w, last, withNulls: true);
        else w.WriteNullValue();
        Rfc3339.Write(w, "created_at"u8, job.CreatedAt);
        Rfc3339.Write(w, "updated_at"u8, job.UpdatedAt);
        w.WriteEndObject();
    }
}

/// <summary>A run record (SPEC §5) as the API returns it, written by <see cref="RunCodec"/>.</summary>
[JsonConverter(typeof(RunViewConverter))]
public sealed class RunView(Run run)
{
    public Run Run { get; } = run;
}

public sealed class RunViewConverter : JsonConverter<RunView>
{
    public override RunView Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("A run view is written, never read.");

    public override void Write(Utf8JsonWriter w, RunView view, JsonSerializerOptions options) =>
        RunCodec.Write(w, view.Run, withNulls: true);
}

public sealed class JobList
{
    public List<JobView> Jobs { get; set; } = [];
    public string? NextCursor { get; set; }
}

public sealed class RunList
{
    public List<RunView> Runs { get; set; } = [];
}

/// <summary>A page of <c>GET /runs</c>.</summary>
public sealed class RunPage
{
    public List<RunView> Runs { get; set; } = [];
    public string? NextCursor { get; set; }
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
[JsonSerializable(typeof(RunPage))]
[JsonSerializable(typeof(RunView))]
[JsonSerializable(typeof(RunStarted))]
[JsonSerializable(typeof(Health))]
[JsonSerializable(typeof(UpcomingList))]
internal sealed partial class KsanaJson : JsonSerializerContext;
