using System.Collections.Concurrent;
using System.Text.Json;
using Ksana.Records;
using Ksana.Scheduling;

namespace Ksana.Storage;

/// <summary>
/// Replays journal.jsonl (format: see <see cref="Journal"/>) straight from UTF-8 bytes, in chunks of
/// whole lines, without a string per line: one thread reads the file and cuts it into chunks, the
/// thread pool checks and decodes the chunks side by side (the bulk of the work), and the calling
/// thread applies them in file order. Tells a torn tail (set aside and cut off, with a warning) from
/// damage in the middle (start-up stops; the file is left exactly as it was).
/// </summary>
public static class JournalReader
{
    /// <summary>Longest line accepted: a job is at most the 1 MiB request plus its escaping.</summary>
    public const int LineLengthMax = 8 << 20;

    /// <summary>Bytes of whole lines handed to one decoding task (about 500 jobs).</summary>
    const int ChunkBytes = 256 << 10;

    /// <summary>Chunks read ahead of the one being applied: enough to keep every core decoding.</summary>
    static int ChunksAhead => 2 * Environment.ProcessorCount;

    public readonly record struct Result(long LastSeq, long Lines, long ValidLength, bool TornTail);

    public static Result Replay(string dataDir, Action<Change> apply, ILogger log)
    {
        var path = Path.Combine(dataDir, Journal.FileName);
        if (!File.Exists(path)) return new Result(0, 0, 0, false);

        long lastSeq = 0, lineNumber = 0, validLength = 0;
        string? badReason = null;
        long badLine = 0, badOffset = 0;

        // Decoding is about four fifths of a replay's work and applying the rest: with the chunks
        // decoded on every core and applied here in order, a start-up with 100 000 jobs uses both cores.
        using var chunks = new BlockingCollection<Task<Batch>>(boundedCapacity: ChunksAhead);
        using var stop = new CancellationTokenSource();
        var spares = new Spares();
        var memo = new ScheduleMemo();
        var reader = Task.Factory.StartNew(() => Read(path, chunks, spares, memo, stop.Token), stop.Token,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            foreach (var chunk in chunks.GetConsumingEnumerable(stop.Token))
            {
                // A decoding task's own failure (an unexpected exception) surfaces here, after every
                // line before its chunk was applied, as it would have on one thread.
                var batch = chunk.GetAwaiter().GetResult();
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
                spares.Give(batch.Lines);
            }
            // The reader's own failure (a line too long) surfaces here, after every chunk before it.
            reader.GetAwaiter().GetResult();
        }
        finally
        {
            stop.Cancel();
            try { reader.Wait(); } catch (AggregateException) { } // already surfaced, or cancelled by a failure here
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

    /// <summary>One line as its decoder saw it, in file order; <see cref="Incomplete"/>: the bytes after the last newline.</summary>
    readonly record struct Decoded(long Offset, long End, bool Blank, bool Incomplete, string? Reason, long Seq, Change Change);

    /// <summary>The lines of one chunk: the first <see cref="Count"/> of a spare array (<see cref="Spares"/>), given back once applied.</summary>
    readonly record struct Batch(Decoded[] Lines, int Count);

    /// <summary>
    /// The reading stage: cuts the file into chunks of whole lines and starts a decoding task for
    /// each, in file order, at most <see cref="ChunksAhead"/> ahead of the applier (see <see cref="Replay"/>).
    /// </summary>
    static void Read(string path, BlockingCollection<Task<Batch>> output, Spares spares, ScheduleMemo memo, CancellationToken stop)
    {
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var length = RandomAccess.GetLength(file);
            var buffer = spares.Bytes(ChunkBytes);
            int filled = 0;
            long fileOffset = 0; // file offset of buffer[0]
            long readAt = 0, lineNumber = 0;
            try
            {
                while (true)
                {
                    if (filled == buffer.Length)
                    {
                        // Not one whole line in the buffer: a long line. Grow, up to the longest allowed.
                        if (buffer.Length >= LineLengthMax) Fail(path, lineNumber + 1, $"line longer than {LineLengthMax} bytes");
                        var larger = new byte[buffer.Length * 2];
                        buffer.AsSpan(0, filled).CopyTo(larger);
                        buffer = larger;
                    }
                    var n = readAt < length ? RandomAccess.Read(file, buffer.AsSpan(filled), readAt) : 0;
                    readAt += n;
                    filled += n;
                    if (n > 0 && filled < buffer.Length) continue;
                    var end = buffer.AsSpan(0, filled).LastIndexOf((byte)'\n') + 1;
                    if (end > 0)
                    {
                        // Hand the whole lines over; the unfinished line starts the next buffer.
                        var next = spares.Bytes(Math.Max(ChunkBytes, filled - end + 1));
                        buffer.AsSpan(end, filled - end).CopyTo(next);
                        var chunk = buffer;
                        var at = fileOffset;
                        var lines = buffer.AsSpan(0, end).Count((byte)'\n');
                        buffer = next;
                        output.Add(Task.Run(() => DecodeChunk(chunk, end, at, lines, spares, memo)), stop);
                        lineNumber += lines;
                        fileOffset += end;
                        filled -= end;
                    }
                    if (n == 0) break;
                }
                if (filled > 0)
                {
                    var tail = spares.Lines(1);
                    tail[0] = new Decoded(fileOffset, fileOffset + filled, false, true, "incomplete last line (no newline)", 0, default);
                    output.Add(Task.FromResult(new Batch(tail, 1)), stop);
                }
            }
            finally
            {
                spares.Give(buffer);
            }
        }
        finally
        {
            output.CompleteAdding();
        }
    }

    /// <summary>The decoding stage, for one chunk of whole lines (each ends in a newline); gives the chunk's buffer back to the spares.</summary>
    static Batch DecodeChunk(byte[] chunk, int length, long fileOffset, int lines, Spares spares, ScheduleMemo memo)
    {
        var decoded = spares.Lines(lines);
        var count = 0;
        try
        {
            var span = chunk.AsSpan(0, length);
            var consumed = 0;
            while (consumed < length)
            {
                var nl = span[consumed..].IndexOf((byte)'\n');
                var line = span.Slice(consumed, nl);
                var lineOffset = fileOffset + consumed;
                consumed += nl + 1;
                var reason = DecodeLine(line, memo, out var seq, out var change);
                decoded[count++] = new Decoded(lineOffset, fileOffset + consumed, line.Trim((byte)0).Length == 0, false, reason, seq, change);
            }
        }
        finally
        {
            spares.Give(chunk);
        }
        return new Batch(decoded, count);
    }

    /// <summary>
    /// The buffers of one replay, passed between its threads: a handful of each, reused from chunk
    /// to chunk and dropped with the replay (a shared pool would keep them for the life of the process).
    /// </summary>
    sealed class Spares
    {
        readonly ConcurrentQueue<byte[]> _bytes = new();
        readonly ConcurrentQueue<Decoded[]> _lines = new();

        public byte[] Bytes(int atLeast) => (atLeast <= ChunkBytes ? Take(_bytes, ChunkBytes) : null) ?? new byte[Math.Max(atLeast, ChunkBytes)];

        public Decoded[] Lines(int atLeast) => Take(_lines, atLeast) ?? new Decoded[Math.Max(atLeast, 1024)];

        /// <summary>Takes back a chunk's buffer; one grown for a long line is not kept (chunks stay their size).</summary>
        public void Give(byte[] buffer)
        {
            if (buffer.Length == ChunkBytes) _bytes.Enqueue(buffer);
        }

        /// <summary>Takes back an applied batch's array, cleared so that it holds no change.</summary>
        public void Give(Decoded[] lines)
        {
            Array.Clear(lines);
            _lines.Enqueue(lines);
        }

        /// <summary>A spare at least <paramref name="atLeast"/> long, or null; a shorter one is dropped (lines vary in length).</summary>
        static T[]? Take<T>(ConcurrentQueue<T[]> spares, int atLeast)
        {
            while (spares.TryDequeue(out var spare))
                if (spare.Length >= atLeast) return spare;
            return null;
        }
    }

    static string? DecodeLine(ReadOnlySpan<byte> line, ScheduleMemo memo, out long seq, out Change change)
    {
        seq = 0;
        change = default;
        if (!LineEncoder.Verify(line)) return "checksum mismatch or malformed line";
        try
        {
            (seq, change) = LineDecoder.Decode(line, memo);
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
