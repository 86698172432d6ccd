using System.Buffers;
using System.IO.Hashing;
using System.Text.Json;
using Ksana.Records;
using Ksana.Scheduling;

namespace Ksana.Storage;

/// <summary>
/// Turns a <see cref="Change"/> into its checksummed journal line (format: see <see cref="Journal"/>).
/// Not thread-safe: each writer owns one.
/// </summary>
internal sealed class LineEncoder
{
    /// <summary>Length of <c>,"crc":"xxxxxxxx"}</c>, the fixed tail of every line before its newline.</summary>
    public const int CrcSuffixLength = 18;

    readonly ArrayBufferWriter<byte> _scratch = new(4096);
    readonly Utf8JsonWriter _json;

    public LineEncoder() => _json = new Utf8JsonWriter(_scratch, new JsonWriterOptions { SkipValidation = true });

    public int Write(IBufferWriter<byte> output, long seq, in Change change)
    {
        _scratch.ResetWrittenCount();
        _json.Reset(_scratch);
        WriteLine(_json, seq, change);
        _json.Flush();
        // The writer closed the object with '}': the checksum member takes its place.
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

    /// <summary>One line, member by member: no documents, no reflection, little garbage.</summary>
    static void WriteLine(Utf8JsonWriter w, long seq, in Change change)
    {
        w.WriteStartObject();
        w.WriteNumber("seq"u8, seq);
        switch (change.Kind)
        {
            case ChangeKind.JobWritten:
                w.WriteString("op"u8, "job"u8);
                w.WritePropertyName("job"u8);
                JobCodec.WriteRecord(w, change.Job!);
                break;
            case ChangeKind.JobDeleted:
                w.WriteString("op"u8, "del"u8);
                w.WriteString("id"u8, change.Target);
                break;
            case ChangeKind.EventQueued:
                w.WriteString("op"u8, "event"u8);
                w.WritePropertyName("event"u8);
                EventCodec.Write(w, change.Event!, withNulls: false);
                break;
            case ChangeKind.EventDelivered:
                w.WriteString("op"u8, "delivered"u8);
                w.WriteString("job_id"u8, change.Target);
                w.WriteString("id"u8, change.EventId.ToString("N"));
                break;
            case ChangeKind.AnswerRemembered:
                w.WriteString("op"u8, "idem"u8);
                w.WritePropertyName("idem"u8);
                AnswerCodec.Write(w, change.Answer!);
                break;
            default:
                w.WriteString("op"u8, "run"u8);
                w.WritePropertyName("run"u8);
                if (change.Run is { } run) RunCodec.Write(w, run, withNulls: false);
                else change.Runs.WriteRecord(change.RunIndex, w);
                break;
        }
        w.WriteEndObject();
    }

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
