using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Ksana.Storage;

/*
 * The journal: DATA_DIR/journal.jsonl, the only place Ksana's state lives.
 *
 * Format. UTF-8 JSON lines, one change per line, appended in order:
 *
 *   {"seq":17,"op":"job","job":{...}, "crc":"8c2f0a1b"}\n     a job written whole (create or any change)
 *   {"seq":18,"op":"del","id":"<uuid>",  "crc":"…"}\n          a job deleted, with its runs
 *   {"seq":19,"op":"run","run":{...},    "crc":"…"}\n          a run written whole (upsert by run_id)
 *
 * "crc" is always the last member: the CRC-32 (IEEE) of every byte of the line before `,"crc":"`,
 * in 8 lower-case hex digits. "seq" rises strictly from line to line. Together they tell a torn
 * write from corruption: a bad *last* line (or a last line with no newline) is what a crash in the
 * middle of an append leaves, so it is set aside in journal.jsonl.torn-<unix-ms> and cut off; a bad
 * line anywhere else is damage, and start-up stops naming the file and line, changing nothing.
 *
 * Durability. Appends are serialized into a memory buffer under <see cref="Gate"/>; one writer
 * thread takes the whole buffer, writes it, and fdatasyncs it, then completes every waiter of that
 * batch at once (group commit: one fsync serves all concurrent writers). An API change answers 2xx
 * only after its batch task completes. If a write or sync fails, every change not yet durable is
 * handed back through <see cref="Lost"/> (the store undoes it in memory), the file is cut back to its
 * last durable length, and the callers get <see cref="JournalUnavailableException"/> (HTTP 503).
 *
 * Compaction. At start-up, and whenever the file grows past twice the last snapshot plus a slack,
 * the writer captures a snapshot of the live state (immutable objects, copied by reference under
 * the gate) and a background task writes it to journal.jsonl.compact and syncs it. Lines appended
 * meanwhile go on into the old file; when the snapshot is ready the writer copies that tail after
 * it, syncs, renames it over journal.jsonl and syncs the directory. A crash at any point leaves
 * either the old file or the new one, each complete. Snapshot lines take a block of fresh sequence
 * numbers reserved at capture time, so the new file's sequence still rises strictly.
 */
public sealed class Journal : IDisposable
{
    public const string FileName = "journal.jsonl";
    public const string CompactFileName = "journal.jsonl.compact";

    /// <summary>Guards the journal's buffer and, by the store's use of it, the whole in-memory state.</summary>
    public readonly Lock Gate = new();

    readonly string _path;
    readonly ILogger _log;
    readonly long _compactionSlackBytes;
    SafeFileHandle _file;
    long _fileLength;
    long _snapshotLength;

    long _nextSeq;
    long _durableSeq;
    ArrayBufferWriter<byte> _pending = new(1 << 16);
    ArrayBufferWriter<byte> _spare = new(1 << 16);
    long _pendingFirstSeq;
    TaskCompletionSource _batch = NewBatch();
    readonly SemaphoreSlim _signal = new(0);
    bool _signalled;
    bool _stopping;
    JournalUnavailableException? _poisoned;
    readonly LineEncoder _encoder = new();
    readonly Thread _writer;

    bool _compactionRequested;
    Task? _snapshotTask;
    long _snapshotEndOffset;
    SafeFileHandle? _snapshotFile;

    /// <summary>Called under <see cref="Gate"/> with the first sequence number that did not reach disk.</summary>
    public Action<long>? Lost { get; set; }

    /// <summary>Called under <see cref="Gate"/>: the live state as journal lines, and how many there are.</summary>
    public Func<(int Count, IEnumerable<JournalLine> Lines)>? SnapshotSource { get; set; }

    public long DurableSeq => Volatile.Read(ref _durableSeq);

    /// <summary>How long a line nobody waits for may sit in memory before it is written.</summary>
    public static readonly TimeSpan LazyFlush = TimeSpan.FromMilliseconds(5);
    bool _lazyPending;
    bool _urgentPending;

    /// <summary>The sequence number the next <see cref="Append"/> will take. Read under <see cref="Gate"/>.</summary>
    public long NextSeq => _nextSeq;

    public long FileLength => Volatile.Read(ref _fileLength);

    /// <summary>Fault injection for tests: runs before each batch is written and may throw an IOException.</summary>
    internal Action? BeforeWrite { get; set; }

    public int Compactions { get; private set; }

    /// <summary>Raised on the writer thread after each successful compaction.</summary>
    public Action? Compacted { get; set; }

    public Journal(string dataDir, long lastSeq, ILogger log, long compactionSlackBytes = 8 << 20)
    {
        _path = Path.Combine(dataDir, FileName);
        _log = log;
        _compactionSlackBytes = compactionSlackBytes;
        _file = File.OpenHandle(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        _fileLength = RandomAccess.GetLength(_file);
        _snapshotLength = _fileLength;
        _nextSeq = lastSeq + 1;
        _durableSeq = lastSeq;
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "ksana-journal" };
        _writer.Start();
    }

    static TaskCompletionSource NewBatch() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Queues one line and returns the task of the batch that will carry it to disk. Must be called
    /// under <see cref="Gate"/>, so lines reach the file in the order the state changed.
    /// </summary>
    public Task Append(JournalLine line) => Append(line, urgent: true);

    /// <summary>
    /// As <see cref="Append(JournalLine)"/>. A line nobody waits for (a run record) is not urgent:
    /// it rides with the next urgent batch or goes out within <see cref="LazyFlush"/>, which saves
    /// a writer wake-up and a sync per run when thousands of runs finish each second.
    /// </summary>
    public Task Append(JournalLine line, bool urgent)
    {
        if (!Gate.IsHeldByCurrentThread) throw new InvalidOperationException("Journal.Append needs the gate.");
        if (_poisoned is not null) throw _poisoned;
        if (line.Seq != _nextSeq) throw new InvalidOperationException($"seq {line.Seq} appended, {_nextSeq} expected");
        if (_pending.WrittenCount == 0) _pendingFirstSeq = line.Seq;
        _nextSeq++;
        _encoder.Write(_pending, line);
        if (urgent)
        {
            _urgentPending = true;
            Wake();
        }
        else if (!_lazyPending)
        {
            // The first lazy line wakes the writer, which then collects more for a moment.
            _lazyPending = true;
            Wake();
        }
        return _batch.Task;
    }

    /// <summary>A task that completes when everything appended so far is on disk.</summary>
    public Task FlushAsync()
    {
        lock (Gate) return _pending.WrittenCount == 0 ? Task.CompletedTask : _batch.Task;
    }

    /// <summary>Asks the writer to compact at its next batch (start-up does this after replay).</summary>
    public void RequestCompaction()
    {
        lock (Gate)
        {
            _compactionRequested = true;
            Wake();
        }
    }

    void Wake()
    {
        if (_signalled) return;
        _signalled = true;
        _signal.Release();
    }

    void WriterLoop()
    {
        while (true)
        {
            _signal.Wait();
            bool collect;
            lock (Gate)
            {
                _signalled = false;
                collect = !_urgentPending && !_stopping && _compactionRequested == false;
            }
            // Only lines nobody waits for so far: collect for a moment. An urgent append (or a stop)
            // releases the semaphore again and ends the wait early.
            if (collect) _signal.Wait(LazyFlush);
            ArrayBufferWriter<byte> batch;
            TaskCompletionSource waiters;
            long firstSeq, lastSeq;
            (int Count, IEnumerable<JournalLine> Lines)? snapshot = null;
            long snapshotFirstSeq = 0;
            lock (Gate)
            {
                _signalled = false;
                _lazyPending = false;
                _urgentPending = false;
                batch = _pending;
                _pending = _spare;
                waiters = _batch;
                _batch = NewBatch();
                firstSeq = _pendingFirstSeq;
                lastSeq = _nextSeq - 1;
                var due = _compactionRequested || _fileLength > 2 * _snapshotLength + _compactionSlackBytes;
                if (due && _snapshotTask is null && _poisoned is null && SnapshotSource is not null)
                {
                    // The state in memory now is exactly what the file holds once this batch is written.
                    snapshot = SnapshotSource();
                    snapshotFirstSeq = _nextSeq;
                    _nextSeq += snapshot.Value.Count;
                    _compactionRequested = false;
                }
            }

            if (batch.WrittenCount > 0 && !WriteBatch(batch, waiters, firstSeq, lastSeq))
            {
                snapshot = null;
                lock (Gate) _nextSeq = Math.Min(_nextSeq, firstSeq);
            }
            else if (batch.WrittenCount == 0)
            {
                waiters.TrySetResult();
            }
            _spare = batch.Capacity > (4 << 20) ? new ArrayBufferWriter<byte>(1 << 16) : batch;
            _spare.ResetWrittenCount();

            if (snapshot is { } s)
            {
                _snapshotEndOffset = _fileLength;
                _snapshotTask = Task.Run(() => WriteSnapshot(s.Lines, snapshotFirstSeq));
            }
            if (_snapshotTask is { IsCompleted: true } done)
                FinishCompaction(done);

            bool stop;
            lock (Gate) stop = _stopping && _pending.WrittenCount == 0;
            if (stop) return;
        }
    }

    bool WriteBatch(ArrayBufferWriter<byte> batch, TaskCompletionSource waiters, long firstSeq, long lastSeq)
    {
        try
        {
            BeforeWrite?.Invoke();
            RandomAccess.Write(_file, batch.WrittenSpan, _fileLength);
            var took = Durability.SyncData(_file, _path);
            if (took > Durability.SlowSync)
                _log.LogWarning("Slow journal sync: {Milliseconds} ms for {Bytes} bytes", (long)took.TotalMilliseconds, batch.WrittenCount);
            Volatile.Write(ref _fileLength, _fileLength + batch.WrittenCount);
            Volatile.Write(ref _durableSeq, lastSeq);
            waiters.TrySetResult();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.LogError("Journal write failed, {Count} changes not saved: {Error}", lastSeq - firstSeq + 1, e.Message);
            var failure = new JournalUnavailableException($"the journal could not be written: {e.Message}", e);
            lock (Gate)
            {
                // Everything after the last durable line is undone, including what queued meanwhile.
                Lost?.Invoke(firstSeq);
                _nextSeq = firstSeq;
                _pending.ResetWrittenCount();
                var queued = _batch;
                _batch = NewBatch();
                waiters.TrySetException(failure);
                queued.TrySetException(failure);
                try
                {
                    RandomAccess.SetLength(_file, _fileLength);
                }
                catch (Exception cut) when (cut is IOException or UnauthorizedAccessException)
                {
                    _poisoned = new JournalUnavailableException(
                        $"the journal is in an unknown state after a failed write ({cut.Message}); restart Ksana once the disk is fixed", cut);
                    _log.LogCritical("{Error}", _poisoned.Message);
                }
            }
            return false;
        }
    }

    void WriteSnapshot(IEnumerable<JournalLine> lines, long firstSeq)
    {
        var path = Path.Combine(Path.GetDirectoryName(_path)!, CompactFileName);
        var file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        try
        {
            var buffer = new ArrayBufferWriter<byte>(1 << 20);
            var encoder = new LineEncoder();
            long offset = 0;
            var seq = firstSeq;
            foreach (var line in lines)
            {
                line.Seq = seq++;
                encoder.Write(buffer, line);
                if (buffer.WrittenCount >= (1 << 20) - 4096)
                {
                    RandomAccess.Write(file, buffer.WrittenSpan, offset);
                    offset += buffer.WrittenCount;
                    buffer.ResetWrittenCount();
                }
            }
            RandomAccess.Write(file, buffer.WrittenSpan, offset);
            offset += buffer.WrittenCount;
            Durability.SyncData(file, path);
            _snapshotLength = offset;
            _snapshotFile = file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
        finally
        {
            lock (Gate) Wake();
        }
    }

    void FinishCompaction(Task done)
    {
        _snapshotTask = null;
        var tmp = Path.Combine(Path.GetDirectoryName(_path)!, CompactFileName);
        var file = _snapshotFile;
        _snapshotFile = null;
        try
        {
            done.GetAwaiter().GetResult();
            // Lines written to the old file while the snapshot was being made follow it in the new file.
            var newLength = _snapshotLength;
            var tail = new byte[1 << 20];
            for (var at = _snapshotEndOffset; at < _fileLength;)
            {
                var n = RandomAccess.Read(_file, tail.AsSpan(0, (int)Math.Min(tail.Length, _fileLength - at)), at);
                RandomAccess.Write(file!, tail.AsSpan(0, n), newLength);
                at += n;
                newLength += n;
            }
            Durability.SyncData(file!, tmp);
            Durability.Replace(tmp, _path);
            var old = _file;
            _file = file!;
            old.Dispose();
            _log.LogInformation("Journal compacted: {Before} bytes to {After} bytes", _fileLength, newLength);
            Volatile.Write(ref _fileLength, newLength);
            Compactions++;
            Compacted?.Invoke();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            _snapshotLength = _fileLength;
            try { File.Delete(tmp); } catch (IOException) { }
            _log.LogWarning("Journal compaction failed, the old journal stays in use: {Error}", e.Message);
        }
    }

    /// <summary>Writes out everything queued, stops the writer and closes the file.</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_stopping) return;
            _stopping = true;
            _signalled = true;
            _signal.Release();
        }
        _writer.Join();
        if (_snapshotTask is { } t)
        {
            try { t.Wait(); } catch (AggregateException) { }
            _snapshotFile?.Dispose();
            try { File.Delete(Path.Combine(Path.GetDirectoryName(_path)!, CompactFileName)); } catch (IOException) { }
        }
        _file.Dispose();
    }
}

/// <summary>The journal cannot take writes now (disk full, read-only, I/O error): HTTP 503.</summary>
public sealed class JournalUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
