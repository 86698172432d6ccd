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
        var json = new JsonOut(w);
        Write(ref json, run, withNulls);
    }

    /// <summary>As <see cref="Write(Utf8JsonWriter, Run, bool)"/>, through either writer (the journal writes through <see cref="JsonBytes"/>).</summary>
    public static void Write<TOut>(ref TOut w, Run run, bool withNulls) where TOut : IJsonOut, allows ref struct
    {
        WriteHead(ref w, run.RunId, run.JobId, run.Trigger, run.Status, run.ScheduledAt, run.FinishedAt, run.Error, run.Error is not null, run.Replays, withNulls);
        foreach (var a in run.Attempts) WriteAttempt(ref w, a, withNulls);
        w.EndArray();
        w.EndObject();
    }

    /// <summary>
    /// What <see cref="Write"/> writes for the journal (no nulls) for a run of at most one attempt,
    /// no error and no replay, from its fields: a job's history writes its plain rows this way
    /// when the journal is compacted, without making a <see cref="Run"/> of each.
    /// </summary>
    public static void WritePlain<TOut>(ref TOut w, Guid runId, Guid jobId, RunTrigger trigger, RunStatus status,
        DateTimeOffset scheduledAt, DateTimeOffset? finishedAt, in Attempt? attempt) where TOut : IJsonOut, allows ref struct
    {
        WriteHead(ref w, runId, jobId, trigger, status, scheduledAt, finishedAt, default, hasError: false, 0, withNulls: false);
        if (attempt is { } a) WriteAttempt(ref w, a, withNulls: false);
        w.EndArray();
        w.EndObject();
    }

    /// <summary>
    /// What <see cref="Write"/> writes for the journal (no nulls) for the record of <paramref name="skips"/>
    /// (<see cref="Run.Skipped"/>), without making the run or its error's text: under overload half
    /// the runs a compaction writes are such records.
    /// </summary>
    public static void WriteSkipped<TOut>(ref TOut w, Guid recordId, Guid jobId, SkipSeries skips, DateTimeOffset finishedAt) where TOut : IJsonOut, allows ref struct
    {
        Span<char> error = stackalloc char[SkipSeries.TextMax];
        WriteHead(ref w, recordId, jobId, RunTrigger.Schedule, RunStatus.Skipped, skips.First, finishedAt, error[..skips.Write(error)], hasError: true, 0, withNulls: false);
        w.EndArray();
        w.EndObject();
    }

    /// <summary>The run's members up to its open attempts array.</summary>
    static void WriteHead<TOut>(ref TOut w, Guid runId, Guid jobId, RunTrigger trigger, RunStatus status,
        DateTimeOffset scheduledAt, DateTimeOffset? finishedAt, scoped ReadOnlySpan<char> error, bool hasError, int replays, bool withNulls)
        where TOut : IJsonOut, allows ref struct
    {
        w.StartObject();
        w.HexGuid("run_id"u8, runId);
        w.Guid("job_id"u8, jobId);
        w.String("trigger"u8, Names.Of(trigger));
        w.String("status"u8, Names.Of(status));
        w.Time("scheduled_at"u8, scheduledAt);
        if (finishedAt is { } finished) w.Time("finished_at"u8, finished);
        else if (withNulls) w.Null("finished_at"u8);
        if (hasError) w.String("error"u8, error);
        else if (withNulls) w.Null("error"u8);
        if (replays > 0 || withNulls) w.Number("replays"u8, replays);
        w.StartArray("attempts"u8);
    }

    static void WriteAttempt<TOut>(ref TOut w, in Attempt a, bool withNulls) where TOut : IJsonOut, allows ref struct
    {
        w.StartObject();
        w.Number("attempt"u8, a.Number);
        w.Time("started_at"u8, a.StartedAt);
        w.Number("duration_ms"u8, a.DurationMs);
        if (a.StatusCode is { } code) w.Number("status_code"u8, code);
        else if (withNulls) w.Null("status_code"u8);
        if (a.Error is { } e) w.String("error"u8, e);
        else if (withNulls) w.Null("error"u8);
        if (a.Response is { } response) w.String("response"u8, response);
        else if (withNulls) w.Null("response"u8);
        w.EndObject();
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
        return Made(runId, jobId, trigger, status, scheduled, finished, attempts.ToArray(), error, replays);
    }

    /// <summary>The run a record read back stands for: <see cref="Read"/>'s, and replay's short road's (<see cref="PlainRunLine"/>).</summary>
    internal static Run Made(Guid runId, Guid jobId, RunTrigger trigger, RunStatus status, DateTimeOffset scheduled, DateTimeOffset? finished,
        Attempt[] attempts, string? error, int replays)
    {
        // A record of skipped slots gets back the series it says, as it had when written.
        var skips = status == RunStatus.Skipped && trigger == RunTrigger.Schedule && attempts.Length == 0 && replays == 0
            && error is not null ? SkipSeries.Parse(error, scheduled) : null;
        return new Run(runId, jobId, trigger, status, scheduled, finished, attempts, error) { Replays = replays, Skips = skips };
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
