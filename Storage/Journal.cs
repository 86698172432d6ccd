using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ksana.Scheduling;
using Microsoft.Win32.SafeHandles;

namespace Ksana.Storage;

/*
 * The journal: DATA_DIR/journal.jsonl, the only place Ksana's state lives.
 *
 * Format. UTF-8 JSON lines, one change per line, appended in order:
 *
 *   {"seq":17,"op":"job","job":{...}, "crc":"8c2f0a1b"}\n     a job written whole (create or any change;
 *                                                               members at the reader's default left out: JobCodec)
 *   {"seq":18,"op":"del","id":"<uuid>",  "crc":"…"}\n          a job deleted, with its runs
 *   {"seq":19,"op":"run","run":{...},    "crc":"…"}\n          a run written whole (upsert by run_id)
 *   {"seq":20,"op":"idem","idem":{...},  "crc":"…"}\n          an answer remembered for an Idempotency-Key (AnswerCodec)
 *
 * "crc" is always the last member: the CRC-32 (IEEE) of every byte of the line before `,"crc":"`,
 * in 8 lower-case hex digits. "seq" rises strictly from line to line. Together they tell a torn
 * write from corruption: a bad *last* line (or a last line with no newline) is what a crash in the
 * middle of an append leaves, so it is set aside in journal.jsonl.torn-<unix-ms> and cut off; a bad
 * line anywhere else is damage, and start-up stops naming the file and line, changing nothing.
 *
 * Durability. Appends are queued in order under the table's lock; one writer thread takes the
 * whole queue, encodes it (off the table's lock), writes it, and fdatasyncs it, then completes
 * every waiter of that batch at once (group commit: one fsync serves all concurrent writers).
 * A run line that a later line of the same run replaces before the batch is taken is dropped:
 * runs are upserts by run_id, so only the newest state of a run within one batch window reaches
 * the file (a scheduled run that ends within the window costs one line, not two; see the README,
 * "Storage", for what a crash can then leave). An API change answers 2xx
 * only after its batch task completes. If a write or sync fails, every change not yet durable is
 * handed back to the table (which undoes it in memory), the file is cut back to its last durable
 * length, and the callers get <see cref="ChangeLogUnavailableException"/> (HTTP 503).
 *
 * Compaction. At start-up, and whenever the file grows past twice the last snapshot plus a slack,
 * the writer captures a snapshot of the live state (immutable objects, copied by reference under
 * the lock) and hands it to a <see cref="Compaction"/>, which writes it beside the journal while
 * lines appended meanwhile go on into the old file, then swaps the files. Snapshot lines take a
 * block of fresh sequence numbers reserved at capture time, so the new file's sequence still rises
 * strictly. Should appends outrun a compaction until the file has grown by a second such allowance,
 * the writer waits for the snapshot before it writes on, so the file's size stays bounded.
 */
public sealed class Journal : ChangeLog
{
    public const string FileName = "journal.jsonl";
    public const string CompactFileName = "journal.jsonl.compact";

    /// <summary>How long a line nobody waits for may sit in memory before it is written.</summary>
    public static readonly TimeSpan LazyFlush = TimeSpan.FromMilliseconds(5);

    readonly string _path;
    readonly ILogger _log;
    readonly long _compactionSlackBytes;
    readonly LineEncoder _encoder = new();
    ArrayBufferWriter<byte> _bytes = new(1 << 16);
    readonly Thread _writer;
    // Set under the lock by Wake, reset under the lock by the writer: set means the writer has work.
    // It does not spin before it blocks (a SemaphoreSlim yields the CPU in a loop first, which cost
    // 4 % of the process's CPU at 10 000 callbacks/s while the writer collected its 5 ms batches).
    readonly ManualResetEventSlim _signal = new(false, spinCount: 0);

    // Guards everything below; it is the table's lock, so lines reach the file in the order the state changed.
    Lock _gate = new();
    Action<long>? _lost;
    Func<(int Count, IEnumerable<Change> Changes)>? _snapshot;

    SafeFileHandle _file;
    long _fileLength;
    long _snapshotLength;
    long _nextSeq;
    long _durableNumber;
    // The last change in the snapshot a compaction is writing out (long.MaxValue: none): see PinnedNumber.
    long _pinnedNumber = long.MaxValue;
    // The lines not yet taken by the writer, in order; a run's newest line there is found by its id.
    List<Line> _pending = new(256);
    List<Line> _spare = new(256);
    readonly Dictionary<Guid, int> _pendingRuns = [];
    long _pendingFirstNumber;
    long _pendingLastNumber;
    TaskCompletionSource _batch = NewBatch();
    bool _stopping;
    bool _lazyPending;
    bool _urgentPending;
    bool _compactionRequested;
    Compaction? _compaction;
    bool _directoryUnsynced;
    ChangeLogUnavailableException? _poisoned;

    public Journal(string dataDir, long lastSeq, ILogger log, long compactionSlackBytes = 8 << 20)
    {
        _path = Path.Combine(dataDir, FileName);
        _log = log;
        _compactionSlackBytes = compactionSlackBytes;
        _file = OwnerOnly.Restrict(File.OpenHandle(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read));
        _fileLength = RandomAccess.GetLength(_file);
        _snapshotLength = _fileLength;
        _nextSeq = lastSeq + 1;
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "ksana-journal" };
        _writer.Start();
    }

    public override long DurableNumber => Volatile.Read(ref _durableNumber);

    public override long PinnedNumber => Volatile.Read(ref _pinnedNumber);

    public long FileLength => Volatile.Read(ref _fileLength);

    public int Compactions { get; private set; }

    /// <summary>Raised on the writer thread after each successful compaction.</summary>
    public Action? Compacted { get; set; }

    /// <summary>Fault injection for tests: runs before each batch is written and may throw an IOException.</summary>
    internal Action? BeforeWrite { get; set; }

    static TaskCompletionSource NewBatch() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override void Attach(Lock tableLock, Action<long> lost, Func<(int Count, IEnumerable<Change> Changes)> snapshot)
    {
        _gate = tableLock;
        _lost = lost;
        _snapshot = snapshot;
    }

    /// <summary>
    /// Queues one line and returns the task of the batch that will carry it to disk. A line nobody
    /// waits for rides with the next urgent batch or goes out within <see cref="LazyFlush"/>, which
    /// saves a writer wake-up and a sync per run when thousands of runs finish each second.
    /// </summary>
    public override Task Append(in Change change, long number, bool urgent)
    {
        if (!_gate.IsHeldByCurrentThread) throw new InvalidOperationException("Journal.Append needs the table's lock.");
        if (_poisoned is not null) throw _poisoned;
        if (_pending.Count == 0) _pendingFirstNumber = number;
        _pendingLastNumber = number;
        if (change.Kind == ChangeKind.RunWritten)
        {
            // Only the newest state of a run matters (upsert by run_id): the line it replaces goes.
            ref var at = ref CollectionsMarshal.GetValueRefOrAddDefault(_pendingRuns, change.Run!.RunId, out var had);
            if (had) CollectionsMarshal.AsSpan(_pending)[at].Dropped = true;
            at = _pending.Count;
        }
        _pending.Add(new Line(change));
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

    public override Task FlushAsync()
    {
        lock (_gate) return _pending.Count == 0 ? Task.CompletedTask : _batch.Task;
    }

    /// <summary>Asks the writer to compact at its next batch (start-up does this after replay).</summary>
    public void RequestCompaction()
    {
        lock (_gate)
        {
            _compactionRequested = true;
            Wake();
        }
    }

    void Wake()
    {
        if (!_signal.IsSet) _signal.Set();
    }

    void WriterLoop()
    {
        while (true)
        {
            _signal.Wait();
            if (Round()) return;
        }
    }

    /// <summary>
    /// One batch, and a compaction's start or finish; true once stopped. A method of its own, so
    /// that its locals are gone while the writer waits for the next: a variable of the loop kept
    /// the last compaction's snapshot (an array of every entry and one of every history: 4.8 MB at
    /// 100 000 jobs, and entries long since replaced) reachable until the next compaction.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    bool Round()
    {
        bool collect;
        lock (_gate)
        {
            _signal.Reset();
            collect = !_urgentPending && !_stopping && !_compactionRequested;
        }
        // Only lines nobody waits for so far: collect for a moment. An urgent append (or a stop)
        // sets the signal again and ends the wait early.
        if (collect) _signal.Wait(LazyFlush);
        List<Line> batch;
        TaskCompletionSource waiters;
        long firstSeq, firstNumber, lastNumber;
        var lines = 0;
        IEnumerable<Change>? snapshot = null;
        long snapshotFirstSeq = 0;
        lock (_gate)
        {
            _signal.Reset();
            _lazyPending = false;
            _urgentPending = false;
            batch = _pending;
            _pending = _spare;
            _pendingRuns.Clear();
            waiters = _batch;
            _batch = NewBatch();
            foreach (ref var line in CollectionsMarshal.AsSpan(batch))
                if (!line.Dropped) lines++;
            firstSeq = _nextSeq;
            _nextSeq += lines;
            firstNumber = _pendingFirstNumber;
            lastNumber = _pendingLastNumber;
            var due = _compactionRequested || _fileLength > 2 * _snapshotLength + _compactionSlackBytes;
            if (due && _compaction is null && _poisoned is null && _snapshot is not null)
            {
                // The state in memory now is exactly what the file holds once this batch is written.
                var (count, changes) = _snapshot();
                // Run histories must not write over rows this snapshot shows until it is written.
                Volatile.Write(ref _pinnedNumber, lastNumber);
                snapshot = changes;
                snapshotFirstSeq = _nextSeq;
                _nextSeq += count;
                _compactionRequested = false;
            }
        }

        var written = batch.Count == 0 || WriteBatch(Encode(batch, firstSeq), firstSeq, firstNumber, lastNumber, waiters);
        if (batch.Count == 0) waiters.TrySetResult();
        batch.Clear();
        _spare = batch.Capacity > (1 << 16) ? new List<Line>(256) : batch;

        if (snapshot is not null && written)
            _compaction = new Compaction(_path, snapshot, snapshotFirstSeq, _fileLength, () => { lock (_gate) Wake(); });
        else if (snapshot is not null) Volatile.Write(ref _pinnedNumber, long.MaxValue);
        // Appends outrunning a compaction (a slow disk, a starved machine) wait for it once the
        // file has grown by a second allowance: the file stays bounded whatever the write rate.
        if (_compaction is { IsWritten: false } running && _fileLength > 2 * (2 * _snapshotLength + _compactionSlackBytes))
            running.WaitWritten();
        if (_compaction is { IsWritten: true } done) FinishCompaction(done);

        lock (_gate) return _stopping && _pending.Count == 0;
    }

    /// <summary>Encodes a batch's lines that are still wanted, numbered from <paramref name="firstSeq"/>; off the table's lock.</summary>
    ArrayBufferWriter<byte> Encode(List<Line> batch, long firstSeq)
    {
        // A batch once huge (a burst) does not keep its buffer: Clear would only zero it, not shrink it.
        if (_bytes.Capacity > (4 << 20)) _bytes = new ArrayBufferWriter<byte>(1 << 16);
        _bytes.ResetWrittenCount();
        var seq = firstSeq;
        foreach (ref var line in CollectionsMarshal.AsSpan(batch))
            if (!line.Dropped)
                _encoder.Write(_bytes, seq++, line.Change);
        return _bytes;
    }

    /// <summary>A queued change; dropped when a later line of the same run replaces it.</summary>
    struct Line(Change change)
    {
        public readonly Change Change = change;
        public bool Dropped;
    }

    bool WriteBatch(ArrayBufferWriter<byte> batch, long firstSeq, long firstNumber, long lastNumber, TaskCompletionSource waiters)
    {
        try
        {
            BeforeWrite?.Invoke();
            // A compaction renamed the file but could not sync the directory: nothing is acknowledged
            // until the new name is known to survive a crash.
            if (_directoryUnsynced)
            {
                Durability.SyncDirectory(Durability.DirectoryOf(_path));
                _directoryUnsynced = false;
            }
            RandomAccess.Write(_file, batch.WrittenSpan, _fileLength);
            var took = Durability.SyncData(_file, _path);
            Observer.Synced(took);
            if (took > Durability.SlowSync)
                _log.LogWarning("Slow journal sync: {Milliseconds} ms for {Bytes} bytes", (long)took.TotalMilliseconds, batch.WrittenCount);
            Volatile.Write(ref _fileLength, _fileLength + batch.WrittenCount);
            Volatile.Write(ref _durableNumber, lastNumber);
            waiters.TrySetResult();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.LogError("Journal write failed, changes not saved: {Error}", e.Message);
            Observer.WriteFailed();
            var failure = new ChangeLogUnavailableException($"the journal could not be written: {e.Message}", e);
            lock (_gate)
            {
                // Everything after the last durable line is undone, including what queued meanwhile.
                _lost?.Invoke(firstNumber);
                _nextSeq = firstSeq;
                _pending.Clear();
                _pendingRuns.Clear();
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
                    _poisoned = new ChangeLogUnavailableException(
                        $"the journal is in an unknown state after a failed write ({cut.Message}); restart Ksana once the disk is fixed", cut);
                    _log.LogCritical("{Error}", _poisoned.Message);
                }
            }
            return false;
        }
    }

    void FinishCompaction(Compaction done)
    {
        _compaction = null;
        // The snapshot is written (or given up): nothing reads its histories any more.
        Volatile.Write(ref _pinnedNumber, long.MaxValue);
        if (done.Finish(_file, _fileLength, _log) is not { } replaced)
        {
            _snapshotLength = _fileLength;
            return;
        }
        var old = _file;
        _file = replaced.File;
        old.Dispose();
        _directoryUnsynced = !replaced.DirectorySynced;
        Volatile.Write(ref _fileLength, replaced.Length);
        _snapshotLength = done.SnapshotLength;
        Compactions++;
        Observer.Compacted();
        Compacted?.Invoke();
    }

    /// <summary>Writes out everything queued, stops the writer and closes the file.</summary>
    public override void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            _signal.Set();
        }
        _writer.Join();
        _compaction?.Abandon();
        _file.Dispose();
    }
}
