using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Ksana.Scheduling;

namespace Ksana.Storage;

/// <summary>What one journal line says (format: see <see cref="Journal"/>).</summary>
public readonly record struct Decoded(long Seq, Job? Job, Guid Deleted, Run? Run);

/// <summary>
/// Reads a journal line straight from its UTF-8 bytes into domain records, without the DTOs the
/// writer uses and without a string for ids, times or durations: replay is what start-up waits for.
/// Any member it does not know is an error, so damage that keeps the checksum (impossible in
/// practice) or a newer format is never half-read.
/// </summary>
public static class LineDecoder
{
    public static Decoded Decode(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line);
        Expect(ref reader, JsonTokenType.StartObject);
        long seq = 0;
        var op = 0; // 1 job, 2 del, 3 run
        Job? job = null;
        Run? run = null;
        var deleted = Guid.Empty;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("seq"u8)) { Next(ref reader); seq = reader.GetInt64(); }
            else if (reader.ValueTextEquals("op"u8))
            {
                Next(ref reader);
                op = reader.ValueTextEquals("job"u8) ? 1 : reader.ValueTextEquals("del"u8) ? 2 : reader.ValueTextEquals("run"u8) ? 3
                    : throw new FormatException("op: unknown operation");
            }
            else if (reader.ValueTextEquals("job"u8)) job = ReadJob(ref reader, seq);
            else if (reader.ValueTextEquals("id"u8)) { Next(ref reader); deleted = ReadGuid(ref reader, "id"); }
            else if (reader.ValueTextEquals("run"u8)) run = ReadRun(ref reader, seq);
            else if (reader.ValueTextEquals("crc"u8)) Next(ref reader);
            else throw Unknown(ref reader);
        }
        return op switch
        {
            1 when job is not null => new Decoded(seq, job with { Seq = seq }, Guid.Empty, null),
            2 when deleted != Guid.Empty => new Decoded(seq, null, deleted, null),
            3 when run is not null => new Decoded(seq, null, Guid.Empty, run with { Seq = seq }),
            _ => throw new FormatException("incomplete record"),
        };
    }

    static Job ReadJob(ref Utf8JsonReader reader, long seq)
    {
        Expect(ref reader, JsonTokenType.StartObject);
        Guid id = default;
        string name = "", method = "GET", url = "", body = "";
        var enabled = true;
        List<KeyValuePair<string, string>>? headers = null;
        var every = false;
        TimeSpan interval = default, timeout = default, backoff = default;
        DateTimeOffset runAt = default, created = default, updated = default, origin = default;
        DateTimeOffset? startAt = null;
        var maxRetries = 0;
        var once = OnceOutcome.Pending;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8)) { Next(ref reader); id = ReadGuid(ref reader, "id"); }
            else if (reader.ValueTextEquals("name"u8)) { Next(ref reader); name = reader.GetString()!; }
            else if (reader.ValueTextEquals("enabled"u8)) { Next(ref reader); enabled = reader.GetBoolean(); }
            else if (reader.ValueTextEquals("method"u8)) { Next(ref reader); method = Method(ref reader); }
            else if (reader.ValueTextEquals("url"u8)) { Next(ref reader); url = reader.GetString()!; }
            else if (reader.ValueTextEquals("headers"u8))
            {
                Expect(ref reader, JsonTokenType.StartObject);
                while (Next(ref reader) == JsonTokenType.PropertyName)
                {
                    var key = reader.GetString()!;
                    Next(ref reader);
                    (headers ??= []).Add(new(key, reader.GetString()!));
                }
            }
            else if (reader.ValueTextEquals("body"u8)) { Next(ref reader); body = reader.GetString()!; }
            else if (reader.ValueTextEquals("kind"u8))
            {
                Next(ref reader);
                every = reader.ValueTextEquals("every"u8) || (reader.ValueTextEquals("once"u8) ? false : throw new FormatException("kind: unknown schedule kind"));
            }
            else if (reader.ValueTextEquals("every"u8)) { Next(ref reader); interval = ReadDuration(ref reader, "every"); }
            else if (reader.ValueTextEquals("run_at"u8)) { Next(ref reader); runAt = ReadTime(ref reader, "run_at"); }
            else if (reader.ValueTextEquals("start_at"u8)) { Next(ref reader); startAt = ReadTime(ref reader, "start_at"); }
            else if (reader.ValueTextEquals("timeout"u8)) { Next(ref reader); timeout = ReadDuration(ref reader, "timeout"); }
            else if (reader.ValueTextEquals("max_retries"u8)) { Next(ref reader); maxRetries = reader.GetInt32(); }
            else if (reader.ValueTextEquals("retry_backoff"u8)) { Next(ref reader); backoff = ReadDuration(ref reader, "retry_backoff"); }
            else if (reader.ValueTextEquals("created_at"u8)) { Next(ref reader); created = ReadTime(ref reader, "created_at"); }
            else if (reader.ValueTextEquals("updated_at"u8)) { Next(ref reader); updated = ReadTime(ref reader, "updated_at"); }
            else if (reader.ValueTextEquals("grid_origin"u8)) { Next(ref reader); origin = ReadTime(ref reader, "grid_origin"); }
            else if (reader.ValueTextEquals("once"u8))
            {
                Next(ref reader);
                once = reader.ValueTextEquals("pending"u8) ? OnceOutcome.Pending : reader.ValueTextEquals("fired"u8) ? OnceOutcome.Fired
                    : reader.ValueTextEquals("missed"u8) ? OnceOutcome.Missed : throw new FormatException("once: unknown value");
            }
            else throw Unknown(ref reader);
        }
        if (id == Guid.Empty || url.Length == 0 || (every && interval <= TimeSpan.Zero))
            throw new FormatException("job: id, url or schedule missing");
        var schedule = every ? Schedule.EveryInterval(interval, startAt) : Schedule.OnceAt(runAt);
        var spec = new JobSpec(name, enabled, new HttpTarget(method, url, headers is null ? [] : headers.ToArray(), body),
            schedule, timeout, maxRetries, backoff);
        return new Job(id, spec, created, updated, origin, once, seq);
    }

    static Run ReadRun(ref Utf8JsonReader reader, long seq)
    {
        Expect(ref reader, JsonTokenType.StartObject);
        var runId = Guid.Empty;
        string? error = null;
        Guid jobId = default;
        var trigger = RunTrigger.Schedule;
        var status = RunStatus.Running;
        DateTimeOffset scheduled = default;
        DateTimeOffset? finished = null;
        var attempts = new List<Attempt>(1);
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("run_id"u8)) { Next(ref reader); runId = ReadGuid(ref reader, "run_id", 'N'); }
            else if (reader.ValueTextEquals("job_id"u8)) { Next(ref reader); jobId = ReadGuid(ref reader, "job_id"); }
            else if (reader.ValueTextEquals("trigger"u8)) { Next(ref reader); trigger = reader.ValueTextEquals("manual"u8) ? RunTrigger.Manual : RunTrigger.Schedule; }
            else if (reader.ValueTextEquals("status"u8)) { Next(ref reader); status = Status(ref reader); }
            else if (reader.ValueTextEquals("scheduled_at"u8)) { Next(ref reader); scheduled = ReadTime(ref reader, "scheduled_at"); }
            else if (reader.ValueTextEquals("finished_at"u8)) { Next(ref reader); finished = ReadTime(ref reader, "finished_at"); }
            else if (reader.ValueTextEquals("error"u8)) { Next(ref reader); error = reader.GetString(); }
            else if (reader.ValueTextEquals("attempts"u8))
            {
                Expect(ref reader, JsonTokenType.StartArray);
                while (Next(ref reader) == JsonTokenType.StartObject) attempts.Add(ReadAttempt(ref reader));
            }
            else throw Unknown(ref reader);
        }
        if (runId == Guid.Empty || jobId == Guid.Empty) throw new FormatException("run: run_id or job_id missing");
        return new Run(runId, jobId, trigger, status, scheduled, finished, attempts.ToArray(), error, seq);
    }

    static Attempt ReadAttempt(ref Utf8JsonReader reader)
    {
        int number = 0;
        int? code = null;
        long duration = 0;
        string? error = null;
        DateTimeOffset started = default;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("attempt"u8)) { Next(ref reader); number = reader.GetInt32(); }
            else if (reader.ValueTextEquals("started_at"u8)) { Next(ref reader); started = ReadTime(ref reader, "started_at"); }
            else if (reader.ValueTextEquals("duration_ms"u8)) { Next(ref reader); duration = reader.GetInt64(); }
            else if (reader.ValueTextEquals("status_code"u8)) { Next(ref reader); code = reader.GetInt32(); }
            else if (reader.ValueTextEquals("error"u8)) { Next(ref reader); error = reader.GetString(); }
            else throw Unknown(ref reader);
        }
        return new Attempt(number, started, duration, code, error);
    }

    /// <summary>One shared string per method rather than one per job.</summary>
    static string Method(ref Utf8JsonReader reader)
    {
        foreach (var m in HttpTarget.Methods)
            if (reader.ValueTextEquals(m)) return m;
        throw new FormatException("method: unknown HTTP method");
    }

    static RunStatus Status(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("succeeded"u8) ? RunStatus.Succeeded
        : reader.ValueTextEquals("failed"u8) ? RunStatus.Failed
        : reader.ValueTextEquals("running"u8) ? RunStatus.Running
        : reader.ValueTextEquals("retrying"u8) ? RunStatus.Retrying
        : reader.ValueTextEquals("skipped"u8) ? RunStatus.Skipped
        : reader.ValueTextEquals("missed"u8) ? RunStatus.Missed
        : throw new FormatException("status: unknown run status");

    static Guid ReadGuid(ref Utf8JsonReader reader, string field, char format = 'D') =>
        reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && Utf8Parser.TryParse(reader.ValueSpan, out Guid g, out var n, format) && n == reader.ValueSpan.Length
            ? g
            : throw new FormatException($"{field}: not a UUID");

    static DateTimeOffset ReadTime(ref Utf8JsonReader reader, string field)
    {
        Span<char> text = stackalloc char[64];
        var length = Ascii(ref reader, text, field);
        return Rfc3339.TryParse(text[..length], out var t, out var error) ? t : throw new FormatException($"{field}: {error}");
    }

    static TimeSpan ReadDuration(ref Utf8JsonReader reader, string field)
    {
        Span<char> text = stackalloc char[64];
        var length = Ascii(ref reader, text, field);
        return GoDuration.TryParse(text[..length], out var ns, out var error) ? GoDuration.ToTimeSpan(ns) : throw new FormatException($"{field}: {error}");
    }

    static int Ascii(ref Utf8JsonReader reader, scoped Span<char> text, string field)
    {
        if (reader.TokenType != JsonTokenType.String) throw new FormatException($"{field}: not a string");
        if (reader.ValueIsEscaped)
        {
            // The writer escapes non-ASCII (a "µs" duration, say): rare, so take the slow road.
            var unescaped = reader.GetString()!;
            if (unescaped.Length > text.Length) throw new FormatException($"{field}: too long");
            unescaped.CopyTo(text);
            return unescaped.Length;
        }
        var value = reader.ValueSpan;
        if (value.Length > text.Length) throw new FormatException($"{field}: too long");
        return Encoding.UTF8.GetChars(value, text);
    }

    static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new FormatException("truncated record");

    static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (Next(ref reader) != type) throw new FormatException($"expected {type}, found {reader.TokenType}");
    }

    static FormatException Unknown(ref Utf8JsonReader reader) =>
        new($"unknown member \"{reader.GetString()}\"");
}
