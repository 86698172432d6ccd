using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using Ksana.Scheduling;

namespace Ksana.Storage;

/// <summary>
/// Replays journal.jsonl (format: see <see cref="Journal"/>) straight from UTF-8 bytes, in chunks,
/// without a string per line, decoding on one thread while applying on another. Tells a torn tail
/// (set aside and cut off, with a warning) from damage in the middle (start-up stops; the file is
/// left exactly as it was).
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

        // Two stages on two threads: one reads, checks and decodes lines (the bulk of the work),
        // this one applies them in order, so a start-up with 100 000 jobs uses both cores.
        using var lines = new BlockingCollection<Batch>(boundedCapacity: 4);
        using var stop = new CancellationTokenSource();
        var decoder = Task.Factory.StartNew(() => Decode(path, lines, stop.Token), stop.Token,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            foreach (var batch in lines.GetConsumingEnumerable(stop.Token))
            {
                foreach (ref readonly var line in batch.Lines.AsSpan(0, batch.Count))
                {
                    if (line.Incomplete)
                    {
                        if (badReason is null)
                        {
                            badReason = line.Reason;
                            badLine = lineNumber + 1;
                            badOffset = line.Offset;
                        }
                        continue;
                    }
                    lineNumber++;
                    if (badReason is not null)
                    {
                        // Something intact follows a bad line: that is damage, not a torn append.
                        if (!line.Blank) Fail(path, badLine, badReason);
                        continue;
                    }
                    var reason = line.Reason ?? (line.Seq <= lastSeq ? $"sequence number {line.Seq} does not follow {lastSeq}" : null);
                    if (reason is null)
                    {
                        apply(line.Change);
                        lastSeq = line.Seq;
                        validLength = line.End;
                    }
                    else
                    {
                        badReason = reason;
                        badLine = lineNumber;
                        badOffset = line.Offset;
                    }
                }
                ArrayPool<Decoded>.Shared.Return(batch.Lines, clearArray: true);
            }
            // The decoder's own failure (a line too long, an unexpected exception) surfaces here,
            // after every line before it was applied, as it would have on one thread.
            decoder.GetAwaiter().GetResult();
        }
        finally
        {
            stop.Cancel();
            try { decoder.Wait(); } catch (AggregateException) { } // already surfaced, or cancelled by a failure here
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

    /// <summary>One line as the decoder saw it, in file order; <see cref="Incomplete"/>: the bytes after the last newline.</summary>
    readonly record struct Decoded(long Offset, long End, bool Blank, bool Incomplete, string? Reason, long Seq, Change Change);

    /// <summary>Lines handed from the decoder to the applier: the first <see cref="Count"/> of a pooled array, given back once applied.</summary>
    readonly record struct Batch(Decoded[] Lines, int Count);

    const int BatchLines = 256;

    /// <summary>The reading stage: splits the file into lines and checks and decodes each (see <see cref="Replay"/>).</summary>
    static void Decode(string path, BlockingCollection<Batch> output, CancellationToken stop)
    {
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var length = RandomAccess.GetLength(file);
            var buffer = new byte[1 << 20];
            int filled = 0;
            long fileOffset = 0; // file offset of buffer[0]
            long readAt = 0, lineNumber = 0, jobsRead = 0;
            var batch = new Batch(ArrayPool<Decoded>.Shared.Rent(BatchLines), 0);
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (buffer.Length >= LineLengthMax)
                    {
                        Flush(ref batch, output, stop);
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
                    var reason = DecodeLine(line, ref jobsRead, out var seq, out var change);
                    Add(ref batch, new Decoded(lineOffset, fileOffset + consumed, line.Trim((byte)0).Length == 0, false, reason, seq, change), output, stop);
                }
                // Keep the unfinished line at the front of the buffer.
                span[consumed..].CopyTo(buffer);
                filled -= consumed;
                fileOffset += consumed;
                if (n == 0) break;
            }
            if (filled > 0) Add(ref batch, new Decoded(fileOffset, fileOffset + filled, false, true, "incomplete last line (no newline)", 0, default), output, stop);
            Flush(ref batch, output, stop);
        }
        finally
        {
            output.CompleteAdding();
        }
    }

    static void Add(ref Batch batch, in Decoded line, BlockingCollection<Batch> output, CancellationToken stop)
    {
        batch.Lines[batch.Count] = line;
        batch = batch with { Count = batch.Count + 1 };
        if (batch.Count == BatchLines) Flush(ref batch, output, stop);
    }

    static void Flush(ref Batch batch, BlockingCollection<Batch> output, CancellationToken stop)
    {
        if (batch.Count == 0) return;
        output.Add(batch, stop);
        batch = new Batch(ArrayPool<Decoded>.Shared.Rent(BatchLines), 0);
    }

    static string? DecodeLine(ReadOnlySpan<byte> line, ref long jobsRead, out long seq, out Change change)
    {
        seq = 0;
        change = default;
        if (!LineEncoder.Verify(line)) return "checksum mismatch or malformed line";
        try
        {
            (seq, change) = LineDecoder.Decode(line, ref jobsRead);
            return null;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return $"unreadable record: {e.Message}";
        }
    }

    static void Fail(string path, long line, string reason) =>
        throw new StartupException(
            $"journal {path} line {line}: {reason}. Start-up stopped and the file was left unchanged; " +
            "restore it from a backup or move it aside to start empty.");
}
