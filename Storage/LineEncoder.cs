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

    /// <summary>Longest run line written straight as bytes (<see cref="JsonBytes"/>); a longer one goes the other way.</summary>
    const int DirectMax = 1024;

    /// <summary>Whether run lines may be written straight as bytes; off, every line goes through the <see cref="Utf8JsonWriter"/> (tests compare the two).</summary>
    internal bool Direct { get; init; } = true;

    public int Write(IBufferWriter<byte> output, long seq, in Change change)
    {
        if (change.Kind == ChangeKind.RunWritten && Direct && WriteDirect(output, seq, change) is var direct and > 0) return direct;
        _scratch.ResetWrittenCount();
        _json.Reset(_scratch);
        WriteLine(_json, seq, change);
        _json.Flush();
        // The writer closed the object with '}': the checksum member takes its place.
        var body = _scratch.WrittenSpan[..^1];
        var dest = output.GetSpan(body.Length + CrcSuffixLength + 1);
        body.CopyTo(dest);
        var length = Seal(output, dest, body.Length);
        if (_scratch.Capacity > (1 << 20)) _scratch.Clear();
        return length;
    }

    /// <summary>
    /// A run's line written straight into <paramref name="output"/> (<see cref="JsonBytes"/>): the
    /// same bytes as the other way, at about 60 % of the cost. 0 when the run has a text that is not
    /// plain or does not fit: nothing is then taken from <paramref name="output"/>.
    /// </summary>
    static int WriteDirect(IBufferWriter<byte> output, long seq, in Change change)
    {
        var dest = output.GetSpan(DirectMax);
        var w = new JsonBytes(dest[..(DirectMax - CrcSuffixLength - 1)]);
        w.StartObject();
        w.Number("seq"u8, seq);
        w.String("op"u8, "run"u8);
        w.Name("run"u8);
        if (change.Run is { } run) RunCodec.Write(ref w, run, withNulls: false);
        else change.Runs.WriteRecord(change.RunIndex, ref w);
        if (w.Failed) return 0;
        // The line's object is left open: the checksum member closes it.
        return Seal(output, dest, w.Length);
    }

    /// <summary>Appends the checksum member and the newline to the line's first <paramref name="bodyLength"/> bytes in <paramref name="dest"/>.</summary>
    static int Seal(IBufferWriter<byte> output, Span<byte> dest, int bodyLength)
    {
        var length = bodyLength + CrcSuffixLength + 1;
        var tail = dest[bodyLength..];
        ",\"crc\":\""u8.CopyTo(tail);
        Crc32.HashToUInt32(dest[..bodyLength]).TryFormat(tail[8..], out _, "x8");
        "\"}\n"u8.CopyTo(tail[16..]);
        output.Advance(length);
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
                var json = new JsonOut(w);
                if (change.Run is { } run) RunCodec.Write(ref json, run, withNulls: false);
                else change.Runs.WriteRecord(change.RunIndex, ref json);
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
