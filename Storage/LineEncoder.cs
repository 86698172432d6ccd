using System.Buffers;
using System.IO.Hashing;
using System.Text.Json;
using Ksana.Scheduling;

namespace Ksana.Storage;

/// <summary>
/// Turns a <see cref="JournalLine"/> into its checksummed bytes (format: see <see cref="Journal"/>).
/// Not thread-safe: each writer owns one.
/// </summary>
internal sealed class LineEncoder
{
    /// <summary>Length of <c>,"crc":"xxxxxxxx"}</c>, the fixed tail of every line before its newline.</summary>
    public const int CrcSuffixLength = 18;

    readonly ArrayBufferWriter<byte> _scratch = new(4096);
    readonly Utf8JsonWriter _json;

    public LineEncoder() => _json = new Utf8JsonWriter(_scratch, new JsonWriterOptions { SkipValidation = true });

    public int Write(IBufferWriter<byte> output, JournalLine line)
    {
        _scratch.ResetWrittenCount();
        _json.Reset(_scratch);
        line.Crc = null;
        if (line.RunRecord is { } run) WriteRun(_json, line.Seq, run);
        else JsonSerializer.Serialize(_json, line, JournalJson.Default.JournalLine);
        _json.Flush();
        // The serializer closed the object with '}': the checksum member takes its place.
        var body = _scratch.WrittenSpan[..^1];
        var length = body.Length + CrcSuffixLength + 1;
        var dest = output.GetSpan(length);
        body.CopyTo(dest);
        var tail = dest[body.Length..];
        ",\"crc\":\""u8.CopyTo(tail);
        Crc32.HashToUInt32(body).TryFormat(tail[8..], out _, "x8");
        "\"}\n"u8.CopyTo(tail[16..]);
        output.Advance(length);
        if (_scratch.Capacity > (1 << 20)) _scratch.Clear();
        return length;
    }

    /// <summary>A run line, written member by member: no documents, no reflection, little garbage.</summary>
    static void WriteRun(Utf8JsonWriter w, long seq, Run run)
    {
        w.WriteStartObject();
        w.WriteNumber("seq"u8, seq);
        w.WriteString("op"u8, "run"u8);
        w.WriteStartObject("run"u8);
        Span<char> id = stackalloc char[32];
        run.RunId.TryFormat(id, out _, "N");
        w.WriteString("run_id"u8, id);
        w.WriteString("job_id"u8, run.JobId);
        w.WriteString("trigger"u8, run.Trigger == RunTrigger.Manual ? "manual"u8 : "schedule"u8);
        w.WriteString("status"u8, RecordMapping.StatusName(run.Status));
        WriteTime(w, "scheduled_at"u8, run.ScheduledAt);
        if (run.FinishedAt is { } finished) WriteTime(w, "finished_at"u8, finished);
        if (run.Error is { } error) w.WriteString("error"u8, error);
        w.WriteStartArray("attempts"u8);
        foreach (var a in run.Attempts)
        {
            w.WriteStartObject();
            w.WriteNumber("attempt"u8, a.Number);
            WriteTime(w, "started_at"u8, a.StartedAt);
            w.WriteNumber("duration_ms"u8, a.DurationMs);
            if (a.StatusCode is { } code) w.WriteNumber("status_code"u8, code);
            if (a.Error is { } e) w.WriteString("error"u8, e);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    static void WriteTime(Utf8JsonWriter w, ReadOnlySpan<byte> name, DateTimeOffset t) => w.WriteString(name, Rfc3339.Format(t));

    /// <summary>
    /// Checks a line's checksum (the line without its newline). Returns false for anything that is
    /// not a complete, intact line.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> line)
    {
        if (line.Length < CrcSuffixLength + 2) return false;
        var body = line[..^CrcSuffixLength];
        var tail = line[^CrcSuffixLength..];
        if (!tail.StartsWith(",\"crc\":\""u8) || !tail.EndsWith("\"}"u8)) return false;
        return uint.TryParse(tail[8..16], System.Globalization.NumberStyles.AllowHexSpecifier, null, out var crc)
            && Crc32.HashToUInt32(body) == crc;
    }
}
