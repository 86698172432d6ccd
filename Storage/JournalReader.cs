using Ksana.Scheduling;
using System.Text.Json;

namespace Ksana.Storage;

/// <summary>
/// Replays journal.jsonl (format: see <see cref="Journal"/>) straight from UTF-8 bytes, in chunks,
/// without a string per line. Tells a torn tail (set aside and cut off, with a warning) from damage
/// in the middle (start-up stops; the file is left exactly as it was).
/// </summary>
public static class JournalReader
{
    /// <summary>Longest line accepted: a job is at most the 1 MiB request plus its escaping.</summary>
    public const int LineLengthMax = 8 << 20;

    public readonly record struct Result(long LastSeq, long Lines, long ValidLength, bool TornTail);

    public static Result Replay(string dataDir, Action<Change> apply, ILogger log)
    {
        var path = Path.Combine(dataDir, Journal.FileName);
        if (!File.Exists(path)) return new Result(0, 0, 0, false);

        long lastSeq = 0, lineNumber = 0, validLength = 0;
        string? badReason = null;
        long badLine = 0, badOffset = 0;

        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            var length = RandomAccess.GetLength(file);
            var buffer = new byte[1 << 20];
            int filled = 0;
            long fileOffset = 0; // file offset of buffer[0]
            long readAt = 0;
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (buffer.Length >= LineLengthMax)
                    {
                        Fail(path, lineNumber + 1, $"line longer than {LineLengthMax} bytes");
                    }
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                var n = readAt < length ? RandomAccess.Read(file, buffer.AsSpan(filled), readAt) : 0;
                readAt += n;
                filled += n;
                var span = buffer.AsSpan(0, filled);
                var consumed = 0;
                while (true)
                {
                    var nl = span[consumed..].IndexOf((byte)'\n');
                    if (nl < 0) break;
                    var line = span.Slice(consumed, nl);
                    lineNumber++;
                    var lineOffset = fileOffset + consumed;
                    consumed += nl + 1;
                    if (badReason is not null)
                    {
                        // Something intact follows a bad line: that is damage, not a torn append.
                        if (line.Trim((byte)0).Length > 0)
                            Fail(path, badLine, badReason);
                        continue;
                    }
                    var reason = ApplyLine(line, ref lastSeq, apply);
                    if (reason is null)
                    {
                        validLength = fileOffset + consumed;
                    }
                    else
                    {
                        badReason = reason;
                        badLine = lineNumber;
                        badOffset = lineOffset;
                    }
                }
                // Keep the unfinished line at the front of the buffer.
                span[consumed..].CopyTo(buffer);
                filled -= consumed;
                fileOffset += consumed;
                if (n == 0) break;
            }
            if (filled > 0 && badReason is null)
            {
                badReason = "incomplete last line (no newline)";
                badLine = lineNumber + 1;
                badOffset = fileOffset;
            }
        }

        if (badReason is null) return new Result(lastSeq, lineNumber, validLength, false);

        // A bad last line is what a crash during an append leaves behind. Keep a copy, then cut it.
        var aside = $"{path}.torn-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";
        using (var source = File.OpenRead(path))
        using (var copy = File.Create(aside))
        {
            OwnerOnly.Restrict(copy.SafeFileHandle);
            source.Seek(badOffset, SeekOrigin.Begin);
            source.CopyTo(copy);
            copy.Flush(flushToDisk: true);
        }
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
        {
            RandomAccess.SetLength(file, validLength);
            Durability.SyncData(file, path);
        }
        log.LogWarning("Journal {Path} line {Line}: {Reason}; a torn last write was cut off and kept in {Aside}",
            path, badLine, badReason, aside);
        return new Result(lastSeq, badLine - 1, validLength, true);
    }

    static string? ApplyLine(ReadOnlySpan<byte> line, ref long lastSeq, Action<Change> apply)
    {
        if (!LineEncoder.Verify(line)) return "checksum mismatch or malformed line";
        (long Seq, Change Change) record;
        try
        {
            record = LineDecoder.Decode(line);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return $"unreadable record: {e.Message}";
        }
        if (record.Seq <= lastSeq) return $"sequence number {record.Seq} does not follow {lastSeq}";
        apply(record.Change);
        lastSeq = record.Seq;
        return null;
    }

    static void Fail(string path, long line, string reason) =>
        throw new StartupException(
            $"journal {path} line {line}: {reason}. Start-up stopped and the file was left unchanged; " +
            "restore it from a backup or move it aside to start empty.");
}
