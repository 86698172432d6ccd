using System.Text.Json;
using Ksana.Scheduling;
using Ksana.Wire;
using static Ksana.Records.JsonRead;

namespace Ksana.Records;

/// <summary>
/// A run record (SPEC §5), written and read in one place for the API and the journal. The API
/// shows every member (null where there is nothing); the journal leaves nulls out.
/// </summary>
public static class RunCodec
{
    public static void Write(Utf8JsonWriter w, Run run, bool withNulls)
    {
        WriteHead(w, run.RunId, run.JobId, run.Trigger, run.Status, run.ScheduledAt, run.FinishedAt, run.Error, run.Error is not null, run.Replays, withNulls);
        foreach (var a in run.Attempts) WriteAttempt(w, a, withNulls);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// What <see cref="Write"/> writes for the journal (no nulls) for a run of at most one attempt,
    /// no error and no replay, from its fields: a job's history writes its plain rows this way
    /// when the journal is compacted, without making a <see cref="Run"/> of each.
    /// </summary>
    public static void WritePlain(Utf8JsonWriter w, Guid runId, Guid jobId, RunTrigger trigger, RunStatus status,
        DateTimeOffset scheduledAt, DateTimeOffset? finishedAt, in Attempt? attempt)
    {
        WriteHead(w, runId, jobId, trigger, status, scheduledAt, finishedAt, default, hasError: false, 0, withNulls: false);
        if (attempt is { } a) WriteAttempt(w, a, withNulls: false);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// What <see cref="Write"/> writes for the journal (no nulls) for the record of <paramref name="skips"/>
    /// (<see cref="Run.Skipped"/>), without making the run or its error's text: under overload half
    /// the runs a compaction writes are such records.
    /// </summary>
    public static void WriteSkipped(Utf8JsonWriter w, Guid recordId, Guid jobId, SkipSeries skips, DateTimeOffset finishedAt)
    {
        Span<char> error = stackalloc char[SkipSeries.TextMax];
        WriteHead(w, recordId, jobId, RunTrigger.Schedule, RunStatus.Skipped, skips.First, finishedAt, error[..skips.Write(error)], hasError: true, 0, withNulls: false);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The run's members up to its open attempts array.</summary>
    static void WriteHead(Utf8JsonWriter w, Guid runId, Guid jobId, RunTrigger trigger, RunStatus status,
        DateTimeOffset scheduledAt, DateTimeOffset? finishedAt, ReadOnlySpan<char> error, bool hasError, int replays, bool withNulls)
    {
        w.WriteStartObject();
        Span<char> id = stackalloc char[32];
        runId.TryFormat(id, out _, "N");
        w.WriteString("run_id"u8, id);
        w.WriteString("job_id"u8, jobId);
        w.WriteString("trigger"u8, Names.Of(trigger));
        w.WriteString("status"u8, Names.Of(status));
        Rfc3339.Write(w, "scheduled_at"u8, scheduledAt);
        if (finishedAt is { } finished) Rfc3339.Write(w, "finished_at"u8, finished);
        else if (withNulls) w.WriteNull("finished_at"u8);
        if (hasError) w.WriteString("error"u8, error);
        else if (withNulls) w.WriteNull("error"u8);
        if (replays > 0 || withNulls) w.WriteNumber("replays"u8, replays);
        w.WriteStartArray("attempts"u8);
    }

    static void WriteAttempt(Utf8JsonWriter w, in Attempt a, bool withNulls)
    {
        w.WriteStartObject();
        w.WriteNumber("attempt"u8, a.Number);
        Rfc3339.Write(w, "started_at"u8, a.StartedAt);
        w.WriteNumber("duration_ms"u8, a.DurationMs);
        if (a.StatusCode is { } code) w.WriteNumber("status_code"u8, code);
        else if (withNulls) w.WriteNull("status_code"u8);
        if (a.Error is { } e) w.WriteString("error"u8, e);
        else if (withNulls) w.WriteNull("error"u8);
        if (a.Response is { } response) w.WriteString("response"u8, response);
        else if (withNulls) w.WriteNull("response"u8);
        w.WriteEndObject();
    }

    /// <summary>Reads what <see cref="Write"/> wrote, the reader on the object's start.</summary>
    public static Run Read(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new FormatException("run: not an object");
        var runId = System.Guid.Empty;
        var jobId = System.Guid.Empty;
        string? error = null;
        var trigger = RunTrigger.Schedule;
        var status = RunStatus.Running;
        DateTimeOffset scheduled = default;
        DateTimeOffset? finished = null;
        var attempts = new List<Attempt>(1);
        var replays = 0;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("run_id"u8)) runId = JsonRead.Guid(ref reader, "run_id", 'N');
            else if (reader.ValueTextEquals("job_id"u8)) jobId = JsonRead.Guid(ref reader, "job_id");
            else if (reader.ValueTextEquals("trigger"u8))
                trigger = Names.TryParse(String(ref reader, "trigger"), out RunTrigger t) ? t : throw new FormatException("trigger: unknown value");
            else if (reader.ValueTextEquals("status"u8))
            {
                Next(ref reader);
                if (!Names.TryParseUtf8(reader.ValueSpan, out status)) throw new FormatException("status: unknown run status");
            }
            else if (reader.ValueTextEquals("scheduled_at"u8)) scheduled = Time(ref reader, "scheduled_at");
            else if (reader.ValueTextEquals("finished_at"u8)) finished = NullOr(ref reader) ? null : Time(ref reader, "finished_at");
            else if (reader.ValueTextEquals("error"u8)) error = NullOr(ref reader) ? null : String(ref reader, "error");
            else if (reader.ValueTextEquals("replays"u8)) { Next(ref reader); replays = reader.GetInt32(); }
            else if (reader.ValueTextEquals("attempts"u8))
            {
                Expect(ref reader, JsonTokenType.StartArray);
                while (Next(ref reader) == JsonTokenType.StartObject) attempts.Add(ReadAttempt(ref reader));
            }
            else throw Unknown(ref reader);
        }
        if (runId == System.Guid.Empty || jobId == System.Guid.Empty) throw new FormatException("run: run_id or job_id missing");
        // A record of skipped slots gets back the series it says, as it had when written.
        var skips = status == RunStatus.Skipped && trigger == RunTrigger.Schedule && attempts.Count == 0 && replays == 0
            && error is not null ? SkipSeries.Parse(error, scheduled) : null;
        return new Run(runId, jobId, trigger, status, scheduled, finished, attempts.ToArray(), error) { Replays = replays, Skips = skips };
    }

    static Attempt ReadAttempt(ref Utf8JsonReader reader)
    {
        int number = 0;
        int? code = null;
        long duration = 0;
        string? error = null, response = null;
        DateTimeOffset started = default;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("attempt"u8)) { Next(ref reader); number = reader.GetInt32(); }
            else if (reader.ValueTextEquals("started_at"u8)) started = Time(ref reader, "started_at");
            else if (reader.ValueTextEquals("duration_ms"u8)) { Next(ref reader); duration = reader.GetInt64(); }
            else if (reader.ValueTextEquals("status_code"u8)) code = NullOr(ref reader) ? null : Int(ref reader);
            else if (reader.ValueTextEquals("error"u8)) error = NullOr(ref reader) ? null : String(ref reader, "error");
            else if (reader.ValueTextEquals("response"u8)) response = NullOr(ref reader) ? null : String(ref reader, "response");
            else throw Unknown(ref reader);
        }
        return new Attempt(number, started, duration, code, error, response);
    }

    /// <summary>True (and the null consumed) when the next value is null; else the reader is left before it.</summary>
    static bool NullOr(ref Utf8JsonReader reader)
    {
        var peek = reader;
        if (!peek.Read() || peek.TokenType != JsonTokenType.Null) return false;
        reader = peek;
        return true;
    }

    static int Int(ref Utf8JsonReader reader)
    {
        Next(ref reader);
        return reader.GetInt32();
    }
}
