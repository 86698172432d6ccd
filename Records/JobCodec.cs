using System.Text.Json;
using Ksana.Scheduling;
using Ksana.Scheduling.Schedules;
using Ksana.Wire;
using static Ksana.Records.JsonRead;

namespace Ksana.Records;

/// <summary>
/// A job's JSON, written in one place for the API view, the PATCH base and the journal, and read
/// back from the journal beside it. The client fields come out exactly as a client would send them;
/// the journal adds the server's own state.
/// </summary>
public static class JobCodec
{
    /// <summary>The client-written members (SPEC §2), in the canonical form: defaults filled in, durations in Go's form.</summary>
    public static void WriteClientFields(Utf8JsonWriter w, JobSpec spec) => WriteClientFields(w, spec, record: false);

    /// <param name="record">
    /// For the journal: members whose value is the one a reader assumes when the member is absent
    /// (no key, no headers, an empty body, no retries, never paused) are left out. A job line is a
    /// fifth shorter, and replay, compaction and every create write or read that much less. Every
    /// version of the reader, the first one included, takes the same values for absent members.
    /// </param>
    static void WriteClientFields(Utf8JsonWriter w, JobSpec spec, bool record)
    {
        if (spec.Key is { } key) w.WriteString("key"u8, key);
        else if (!record) w.WriteNull("key"u8);
        w.WriteString("name"u8, spec.Name);
        w.WriteBoolean("enabled"u8, spec.Enabled);
        w.WriteString("type"u8, "http"u8);
        w.WriteStartObject("http"u8);
        w.WriteString("method"u8, spec.Http.Method);
        w.WriteString("url"u8, spec.Http.Url);
        if (!record || spec.Http.Headers.Count > 0)
        {
            w.WriteStartObject("headers"u8);
            foreach (var (name, value) in spec.Http.Headers) w.WriteString(name, value);
            w.WriteEndObject();
        }
        if (!record || spec.Http.Body.Length > 0) w.WriteString("body"u8, spec.Http.Body);
        w.WriteEndObject();
        w.WritePropertyName("schedule"u8);
        ScheduleCodec.Write(w, spec.Schedule);
        GoDuration.Write(w, "timeout"u8, spec.Timeout.Nanoseconds);
        if (!record || spec.MaxRetries != 0) w.WriteNumber("max_retries"u8, spec.MaxRetries);
        GoDuration.Write(w, "retry_backoff"u8, spec.RetryBackoff.Nanoseconds);
        if (!record || spec.PauseAfterFailures != 0) w.WriteNumber("pause_after_failures"u8, spec.PauseAfterFailures);
    }

    /// <summary>A job as the journal keeps it: the client fields and the server's state; members at the reader's default are left out.</summary>
    public static void WriteRecord(Utf8JsonWriter w, Job job)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, job.Id);
        WriteClientFields(w, job.Spec, record: true);
        Rfc3339.Write(w, "created_at"u8, job.CreatedAt);
        Rfc3339.Write(w, "updated_at"u8, job.UpdatedAt);
        Rfc3339.Write(w, "grid_origin"u8, job.GridOrigin);
        if (job.Once != OnceOutcome.Pending) w.WriteString("once"u8, job.Once == OnceOutcome.Fired ? "fired"u8 : "missed"u8);
        if (job.PausedReason is { } reason) w.WriteString("paused_reason"u8, reason);
        if (job.FailureStreak > 0) w.WriteNumber("failure_streak"u8, job.FailureStreak);
        if (job.StreakAtResume > 0) w.WriteNumber("streak_at_resume"u8, job.StreakAtResume);
        w.WriteEndObject();
    }

    /// <summary>
    /// Reads what <see cref="WriteRecord"/> wrote, the reader on the object's start. Also reads the
    /// first journal format (before schedule kinds had codecs), which kept the http and schedule
    /// members flat in the job: <c>"method"</c>, <c>"url"</c>, <c>"kind"</c>, <c>"every"</c>, ….
    /// </summary>
    /// <param name="version">The <see cref="Job.Version"/> the job is read with (a version is not written: replay gives a job its line's sequence number).</param>
    /// <param name="source">The bytes the reader was made over, when the caller has them whole (a journal line).</param>
    /// <param name="memo">The schedules read so far (replay, with <paramref name="source"/>): a schedule written as one of them is not read again.</param>
    public static Job ReadRecord(ref Utf8JsonReader reader, long version = 0, ReadOnlySpan<byte> source = default, ScheduleMemo? memo = null)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new FormatException("job: not an object");
        var id = System.Guid.Empty;
        string name = "", method = "GET", url = "", body = "";
        var enabled = true;
        List<KeyValuePair<string, string>>? headers = null;
        Duration timeout = default, backoff = default;
        DateTimeOffset created = default, updated = default, origin = default;
        var maxRetries = 0;
        var once = OnceOutcome.Pending;
        string? key = null, pausedReason = null;
        int pauseAfter = 0, streak = 0, streakAtResume = 0;
        var schedule = ScheduleFields.ForRecord();
        Schedule? sameSchedule = null;
        ReadOnlySpan<byte> scheduleText = default; // the schedule object as written, for the memo
        ReadOnlySpan<byte> timeText = default; // the last time read, as written
        DateTimeOffset time = default;
        var expected = RecordMember.Id;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            var member = MemberOf(ref reader, expected);
            expected = member + 1;
            switch (member)
            {
                case RecordMember.Id: id = JsonRead.Guid(ref reader, "id"); break;
                case RecordMember.Key: Next(ref reader); key = reader.TokenType == JsonTokenType.Null ? null : reader.GetString(); break;
                case RecordMember.Name: name = String(ref reader, "name"); break;
                case RecordMember.Enabled: Next(ref reader); enabled = reader.GetBoolean(); break;
                case RecordMember.Type:
                    if (!StringIs(ref reader, "type", "http"u8)) throw new FormatException("type: unknown job type");
                    break;
                case RecordMember.Http:
                    Expect(ref reader, JsonTokenType.StartObject);
                    while (Next(ref reader) == JsonTokenType.PropertyName)
                        if (!ReadHttpMember(ref reader, ref method, ref url, ref headers, ref body)) throw Unknown(ref reader);
                    break;
                case RecordMember.Schedule:
                    Expect(ref reader, JsonTokenType.StartObject);
                    if (memo is not null && !source.IsEmpty)
                    {
                        // Past the object to find its bytes; back to its start (the reader is a struct) if they are new.
                        var atStart = reader;
                        var start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        scheduleText = source[start..(int)reader.BytesConsumed];
                        if (memo.Find(scheduleText) is { } known)
                        {
                            sameSchedule = known;
                            break;
                        }
                        reader = atStart;
                    }
                    while (Next(ref reader) == JsonTokenType.PropertyName)
                    {
                        var field = Known(ref reader, ScheduleMembers) ?? reader.GetString()!;
                        Next(ref reader);
                        if (reader.TokenType != JsonTokenType.String) throw new FormatException($"{field}: not a string");
                        schedule.Add(field, Known(ref reader, ScheduleValues) ?? reader.GetString()!);
                    }
                    break;
                case RecordMember.Timeout: timeout = JsonRead.Duration(ref reader, "timeout"); break;
                case RecordMember.MaxRetries: Next(ref reader); maxRetries = reader.GetInt32(); break;
                case RecordMember.RetryBackoff: backoff = JsonRead.Duration(ref reader, "retry_backoff"); break;
                case RecordMember.PauseAfterFailures: Next(ref reader); pauseAfter = reader.GetInt32(); break;
                case RecordMember.CreatedAt: created = SameTime(ref reader, "created_at", ref timeText, ref time); break;
                case RecordMember.UpdatedAt: updated = SameTime(ref reader, "updated_at", ref timeText, ref time); break;
                case RecordMember.GridOrigin: origin = SameTime(ref reader, "grid_origin", ref timeText, ref time); break;
                case RecordMember.Once:
                    once = StringIs(ref reader, "once", "pending"u8) ? OnceOutcome.Pending
                        : reader.ValueTextEquals("fired"u8) ? OnceOutcome.Fired
                        : reader.ValueTextEquals("missed"u8) ? OnceOutcome.Missed
                        : throw new FormatException("once: unknown value");
                    break;
                case RecordMember.PausedReason: pausedReason = String(ref reader, "paused_reason"); break;
                case RecordMember.FailureStreak: Next(ref reader); streak = reader.GetInt32(); break;
                case RecordMember.StreakAtResume: Next(ref reader); streakAtResume = reader.GetInt32(); break;
                default:
                    // The first journal format kept the http and schedule members flat in the job.
                    if (ReadHttpMember(ref reader, ref method, ref url, ref headers, ref body)) break;
                    if (reader.ValueTextEquals("kind"u8) || reader.ValueTextEquals("every"u8)
                        || reader.ValueTextEquals("run_at"u8) || reader.ValueTextEquals("start_at"u8))
                    {
                        var flat = reader.GetString()!;
                        schedule.Add(flat, String(ref reader, flat));
                        break;
                    }
                    throw Unknown(ref reader);
            }
        }
        var kind = sameSchedule ?? ScheduleCodec.Read(schedule);
        if (kind is null)
            throw new FormatException(schedule.FirstError ?? "schedule: unreadable");
        if (sameSchedule is null && !scheduleText.IsEmpty) kind = memo!.Remember(scheduleText, kind);
        if (id == System.Guid.Empty || url.Length == 0) throw new FormatException("job: id or url missing");
        var spec = new JobSpec(name, enabled, new HttpTarget(method, url, headers is null ? [] : headers.ToArray(), body),
            kind, timeout, maxRetries, backoff) { Key = key, PauseAfterFailures = pauseAfter };
        return new Job(id, spec, created, updated, origin, once, version) { PausedReason = pausedReason, FailureStreak = streak, StreakAtResume = streakAtResume };
    }

    /// <summary>
    /// A time, read once when it is written as the one before it: a job not changed since it was
    /// made has the same created_at, updated_at and grid_origin, and replay reads 100 000 of them.
    /// </summary>
    static DateTimeOffset SameTime(ref Utf8JsonReader reader, string field, ref ReadOnlySpan<byte> lastText, ref DateTimeOffset last)
    {
        Next(ref reader);
        if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            if (!lastText.IsEmpty && reader.ValueSpan.SequenceEqual(lastText)) return last;
            last = TimeValue(ref reader, field);
            lastText = reader.ValueSpan;
            return last;
        }
        return TimeValue(ref reader, field);
    }

    /// <summary>The members of a record, in the order <see cref="WriteRecord"/> writes them.</summary>
    enum RecordMember
    {
        Id, Key, Name, Enabled, Type, Http, Schedule, Timeout, MaxRetries, RetryBackoff, PauseAfterFailures,
        CreatedAt, UpdatedAt, GridOrigin, Once, PausedReason, FailureStreak, StreakAtResume, Unknown,
    }

    static readonly byte[][] RecordMembers =
    [
        "id"u8.ToArray(), "key"u8.ToArray(), "name"u8.ToArray(), "enabled"u8.ToArray(), "type"u8.ToArray(),
        "http"u8.ToArray(), "schedule"u8.ToArray(), "timeout"u8.ToArray(), "max_retries"u8.ToArray(),
        "retry_backoff"u8.ToArray(), "pause_after_failures"u8.ToArray(), "created_at"u8.ToArray(),
        "updated_at"u8.ToArray(), "grid_origin"u8.ToArray(), "once"u8.ToArray(), "paused_reason"u8.ToArray(),
        "failure_streak"u8.ToArray(), "streak_at_resume"u8.ToArray(),
    ];

    /// <summary>
    /// The member the reader is on. A record lists its members in the order they are written, so the
    /// search starts after the last one: about one comparison a member instead of up to twenty
    /// (replay reads 100 000 records at start-up). Any other order is read as well, more slowly.
    /// </summary>
    static RecordMember MemberOf(ref Utf8JsonReader reader, RecordMember expected)
    {
        // From the one expected on (members left out are passed over), then those before it.
        for (var i = (int)expected; i < RecordMembers.Length; i++)
            if (reader.ValueTextEquals(RecordMembers[i])) return (RecordMember)i;
        for (var i = 0; i < (int)expected && i < RecordMembers.Length; i++)
            if (reader.ValueTextEquals(RecordMembers[i])) return (RecordMember)i;
        return RecordMember.Unknown;
    }

    static bool ReadHttpMember(ref Utf8JsonReader reader, ref string method, ref string url,
        ref List<KeyValuePair<string, string>>? headers, ref string body)
    {
        if (reader.ValueTextEquals("method"u8))
        {
            Next(ref reader);
            method = Method(ref reader);
        }
        else if (reader.ValueTextEquals("url"u8)) url = String(ref reader, "url");
        else if (reader.ValueTextEquals("body"u8)) body = String(ref reader, "body");
        else if (reader.ValueTextEquals("headers"u8))
        {
            Expect(ref reader, JsonTokenType.StartObject);
            while (Next(ref reader) == JsonTokenType.PropertyName)
            {
                var key = reader.GetString()!;
                (headers ??= []).Add(new(key, String(ref reader, key)));
            }
        }
        else return false;
        return true;
    }

    static readonly (string Text, byte[] Utf8)[] ScheduleMembers = Utf8(["kind", "every", "run_at", "start_at", "end_at", "jitter", "catch_up", "cron", "time_zone"]);
    static readonly (string Text, byte[] Utf8)[] ScheduleValues = Utf8(["every", "once", "cron", "UTC"]);

    /// <summary>Each string with its UTF-8 bytes: the reader compares bytes, and a string would be encoded anew at every comparison.</summary>
    static (string, byte[])[] Utf8(string[] texts) => [.. texts.Select(t => (t, System.Text.Encoding.UTF8.GetBytes(t)))];

    /// <summary>
    /// The shared string for a token that is one of <paramref name="known"/>, or null: replay reads
    /// the same few schedule names for every job, and a string each would be garbage at start-up.
    /// </summary>
    static string? Known(ref Utf8JsonReader reader, (string Text, byte[] Utf8)[] known)
    {
        if (reader.ValueIsEscaped) return null;
        foreach (var (text, utf8) in known)
            if (reader.ValueTextEquals(utf8)) return text;
        return null;
    }

    /// <summary>One shared string per method rather than one per job.</summary>
    static string Method(ref Utf8JsonReader reader)
    {
        if (Known(ref reader, Methods) is { } method) return method;
        // Written escaped (by hand, say): compare the text.
        return (reader.ValueIsEscaped ? Escaped(reader.GetString()) : null) ?? throw new FormatException("method: unknown HTTP method");

        static string? Escaped(string? text) => Array.Find(HttpTarget.Methods, m => m == text);
    }

    static readonly (string Text, byte[] Utf8)[] Methods = Utf8(HttpTarget.Methods);
}
