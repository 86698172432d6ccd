using System.Buffers;
using System.Text;
using Ksana.Scheduling;
using Ksana.Storage;
using Npgsql;
using NpgsqlTypes;

namespace Ksana.Cluster;

/*
 * The change log on PostgreSQL (cluster mode, SPEC §12): the second implementation of the storage
 * port, beside the journal.
 *
 * Changes are queued under the table's lock, exactly as the journal queues lines, and one writer
 * commits them in batches: an API change wakes it at once, run records wait up to 5 ms to share a
 * commit (group commit, as the journal's fsync). One batch is one transaction: each job, run, event
 * and answer written whole (the journal's own line encoding, so both backends read and write the
 * same records), a feed row per change for the other nodes, the release of the claim of every run
 * that ended, and a NOTIFY. A 2xx is sent only after the commit.
 *
 * A batch that fails is undone in memory (with every change queued after it), its writers get
 * ChangeLogUnavailableException (503), and the log refuses writes at once until the node reaches
 * the database again (<see cref="Reachable"/>), so a client is not kept waiting on a dead database.
 */
public sealed class PgChangeLog : ChangeLog
{
    public static readonly TimeSpan LazyFlush = TimeSpan.FromMilliseconds(5);

    // Feed kinds: what another node must fetch again.
    internal const short FeedJob = 1, FeedRun = 2, FeedOutbox = 3, FeedAnswer = 4;

    readonly NpgsqlDataSource _db;
    readonly string _node;
    readonly ILogger _log;
    readonly SemaphoreSlim _signal = new(0);
    readonly Task _writer;
    readonly CancellationTokenSource _stop = new();

    Lock _gate = new();
    Action<long>? _lost;
    List<(Change Change, long Number)> _pending = [];
    List<(Change Change, long Number)> _spare = [];
    TaskCompletionSource _batch = NewBatch();
    bool _signalled;
    bool _urgentPending;
    long _durableNumber;
    volatile ChangeLogUnavailableException? _down;

    public PgChangeLog(NpgsqlDataSource db, string node, ILogger log)
    {
        _db = db;
        _node = node;
        _log = log;
        _writer = Task.Factory.StartNew(WriterLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    static TaskCompletionSource NewBatch() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override long DurableNumber => Volatile.Read(ref _durableNumber);

    /// <summary>The node reached the database again: writes are taken again.</summary>
    public void Reachable() => _down = null;

    /// <summary>The node lost the database (its heartbeat failed): refuse writes until it is back.</summary>
    public void Unreachable(string why) =>
        _down ??= new ChangeLogUnavailableException($"PostgreSQL cannot be reached ({why}); nothing was changed");

    public override void Attach(Lock tableLock, Action<long> lost, Func<(int Count, IEnumerable<Change> Changes)> snapshot)
    {
        _gate = tableLock;
        _lost = lost;
    }

    public override Task Append(in Change change, long number, bool urgent)
    {
        if (!_gate.IsHeldByCurrentThread) throw new InvalidOperationException("PgChangeLog.Append needs the table's lock.");
        if (_down is { } down) throw down;
        _pending.Add((change, number));
        if (urgent) _urgentPending = true;
        if (urgent || _pending.Count == 1) Wake();
        return _batch.Task;
    }

    public override Task FlushAsync()
    {
        lock (_gate) return _pending.Count == 0 ? Task.CompletedTask : _batch.Task;
    }

    void Wake()
    {
        if (_signalled) return;
        _signalled = true;
        _signal.Release();
    }

    async Task WriterLoop()
    {
        var encoder = new LineEncoder();
        while (true)
        {
            try
            {
                await _signal.WaitAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                // Stopping: what is still queued (the records of runs drained on SIGTERM) is written first.
                lock (_gate)
                    if (_pending.Count == 0) return;
            }
            bool collect;
            lock (_gate)
            {
                _signalled = false;
                collect = !_urgentPending && !_stop.IsCancellationRequested;
            }
            if (collect)
            {
                try { await _signal.WaitAsync(LazyFlush, _stop.Token); }
                catch (OperationCanceledException) { }
            }
            List<(Change Change, long Number)> batch;
            TaskCompletionSource waiters;
            lock (_gate)
            {
                _signalled = false;
                _urgentPending = false;
                batch = _pending;
                _pending = _spare;
                waiters = _batch;
                _batch = NewBatch();
            }
            if (batch.Count == 0)
            {
                waiters.TrySetResult();
                _spare = batch;
                continue;
            }
            try
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                await WriteAsync(batch, encoder);
                Volatile.Write(ref _durableNumber, batch[^1].Number);
                Observer.Synced(System.Diagnostics.Stopwatch.GetElapsedTime(started));
                waiters.TrySetResult();
            }
            catch (Exception e) when (ClusterStore.IsDatabaseError(e))
            {
                Observer.WriteFailed();
                var failure = new ChangeLogUnavailableException($"PostgreSQL cannot be written ({e.Message}); nothing was changed", e);
                _log.LogError("Cluster: a batch of {Count} changes could not be committed: {Error}", batch.Count, e.Message);
                TaskCompletionSource later;
                lock (_gate)
                {
                    _down = failure;
                    // This batch and everything queued behind it is undone: the table forgets it all.
                    _lost?.Invoke(batch[0].Number);
                    _pending.Clear();
                    later = _batch;
                    _batch = NewBatch();
                }
                waiters.TrySetException(failure);
                later.TrySetException(failure);
            }
            batch.Clear();
            _spare = batch;
        }
    }

    async Task WriteAsync(List<(Change Change, long Number)> changes, LineEncoder encoder)
    {
        var w = new BatchWriter(encoder);
        foreach (var (change, _) in changes) w.Add(change);
        await using var conn = await _db.OpenConnectionAsync();
        // One round trip: a batch outside an explicit transaction runs as one implicit transaction
        // (one Sync at its end), so it commits whole or not at all.
        await using var batch = w.Commands(conn, _node);
        // A backlog of run records can make one batch large; it must not time out for that alone.
        batch.Timeout = 120;
        await batch.ExecuteNonQueryAsync();
    }

    public override void Dispose()
    {
        _stop.Cancel();
        try { _writer.Wait(TimeSpan.FromSeconds(10)); }
        catch (AggregateException) { }
    }

    /// <summary>
    /// One batch's changes folded to their final state per item (a job written then deleted is
    /// deleted; a run written twice is written once), then turned into one round trip of statements.
    /// </summary>
    internal sealed class BatchWriter(LineEncoder encoder)
    {
        readonly Dictionary<Guid, Job?> _jobs = [];
        readonly Dictionary<Guid, Run> _runs = [];
        readonly Dictionary<Guid, (Guid JobId, Event? Event)> _events = [];
        readonly Dictionary<string, RememberedAnswer> _answers = new(StringComparer.Ordinal);
        readonly ArrayBufferWriter<byte> _line = new(1024);
        readonly HashSet<Guid> _outboxTouched = [];

        public void Add(in Change change)
        {
            switch (change.Kind)
            {
                case ChangeKind.JobWritten: _jobs[change.Job!.Id] = change.Job; break;
                case ChangeKind.JobDeleted: _jobs[change.Target] = null; break;
                case ChangeKind.RunWritten: _runs[change.Run!.RunId] = change.Run; break;
                case ChangeKind.EventQueued: _events[change.Event!.Id] = (change.Event.JobId, change.Event); break;
                case ChangeKind.EventDelivered:
                    if (_events.TryGetValue(change.EventId, out var queued) && queued.Event is not null) _events.Remove(change.EventId);
                    else _events[change.EventId] = (change.Target, null);
                    // Either way the job's outbox changed for the other nodes.
                    _outboxTouched.Add(change.Target);
                    break;
                case ChangeKind.AnswerRemembered: _answers[AnswerKey(change.Answer!)] = change.Answer!; break;
            }
        }

        public static string AnswerKey(RememberedAnswer a) => a.Caller + "\n" + a.Key;

        string Doc(in Change change)
        {
            _line.ResetWrittenCount();
            var length = encoder.Write(_line, 0, change);
            return Encoding.UTF8.GetString(_line.WrittenSpan[..(length - 1)]); // without the newline
        }

        public NpgsqlBatch Commands(NpgsqlConnection conn, string node)
        {
            var batch = new NpgsqlBatch(conn);
            var feedKinds = new List<short>();
            var feedJobs = new List<Guid>();
            var feedItems = new List<string>();
            void Feed(short kind, Guid job, string item)
            {
                feedKinds.Add(kind);
                feedJobs.Add(job);
                feedItems.Add(item);
            }

            var deleted = new List<Guid>();
            var jobIds = new List<Guid>();
            var jobParts = new List<int>();
            var jobKeys = new List<string?>();
            var jobDocs = new List<string>();
            foreach (var (id, job) in _jobs)
            {
                Feed(FeedJob, id, "");
                if (job is null)
                {
                    deleted.Add(id);
                    continue;
                }
                jobIds.Add(id);
                jobParts.Add(Schema.PartOf(id));
                jobKeys.Add(job.Spec.Key);
                jobDocs.Add(Doc(Change.Written(job)));
            }

            var runIds = new List<Guid>();
            var runJobs = new List<Guid>();
            var runParts = new List<int>();
            var runDocs = new List<string>();
            var ended = new List<Guid>();
            foreach (var (id, run) in _runs)
            {
                if (_jobs.TryGetValue(run.JobId, out var j) && j is null) continue;
                runIds.Add(id);
                runJobs.Add(run.JobId);
                runParts.Add(Schema.PartOf(run.JobId));
                runDocs.Add(Doc(Change.Recorded(run)));
                if (run.IsFinished) ended.Add(id);
                Feed(FeedRun, run.JobId, Scheduling.Run.Text(id));
            }

            var eventIds = new List<Guid>();
            var eventJobs = new List<Guid>();
            var eventDocs = new List<string>();
            var delivered = new List<Guid>();
            var outboxJobs = _outboxTouched;
            foreach (var (id, (jobId, e)) in _events)
            {
                outboxJobs.Add(jobId);
                if (e is null)
                {
                    delivered.Add(id);
                    continue;
                }
                if (_jobs.TryGetValue(e.JobId, out var j) && j is null) continue;
                eventIds.Add(id);
                eventJobs.Add(e.JobId);
                eventDocs.Add(Doc(Change.Queued(e)));
            }
            foreach (var job in outboxJobs) Feed(FeedOutbox, job, "");

            var answerKeys = new List<string>();
            var answerDocs = new List<string>();
            var answerExpiry = new List<DateTime>();
            foreach (var (key, answer) in _answers)
            {
                answerKeys.Add(key);
                answerDocs.Add(Doc(Change.Remembered(answer)));
                answerExpiry.Add((answer.At + RememberedAnswers.Kept).UtcDateTime);
                Feed(FeedAnswer, Guid.Empty, key);
            }

            var n = feedKinds.Count;
            const string Base = "(SELECT seq FROM ksana_clock WHERE id = 1)";
            if (jobIds.Count > 0)
                Add(batch, """
                    INSERT INTO ksana_jobs (id, part, key, doc) SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[])
                    ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key, doc = EXCLUDED.doc
                    """, P(jobIds.ToArray()), P(jobParts.ToArray()), P(jobKeys.ToArray()), P(jobDocs.ToArray()));
            if (runIds.Count > 0)
                Add(batch, $"""
                    INSERT INTO ksana_runs (run_id, job_id, part, first_seq, doc)
                    SELECT r, j, p, nextval('ksana_order'), d FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[]) WITH ORDINALITY AS u(r, j, p, d, o)
                    ORDER BY o
                    ON CONFLICT (run_id) DO UPDATE SET doc = EXCLUDED.doc
                    """, P(runIds.ToArray()), P(runJobs.ToArray()), P(runParts.ToArray()), P(runDocs.ToArray()));
            if (ended.Count > 0)
                Add(batch, "DELETE FROM ksana_active WHERE run_id = ANY($1)", P(ended.ToArray()));
            if (eventIds.Count > 0)
                Add(batch, $"""
                    INSERT INTO ksana_events (id, job_id, first_seq, doc)
                    SELECT e, j, nextval('ksana_order'), d FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS u(e, j, d, o)
                    ORDER BY o
                    ON CONFLICT (id) DO NOTHING
                    """, P(eventIds.ToArray()), P(eventJobs.ToArray()), P(eventDocs.ToArray()));
            if (delivered.Count > 0)
                Add(batch, "DELETE FROM ksana_events WHERE id = ANY($1)", P(delivered.ToArray()));
            if (answerKeys.Count > 0)
                Add(batch, """
                    INSERT INTO ksana_answers (key, doc, expires_at) SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                    ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc, expires_at = EXCLUDED.expires_at
                    """, P(answerKeys.ToArray()), P(answerDocs.ToArray()), P(answerExpiry.ToArray()));
            if (deleted.Count > 0)
            {
                var ids = deleted.ToArray();
                Add(batch, "DELETE FROM ksana_jobs WHERE id = ANY($1)", P(ids));
                Add(batch, "DELETE FROM ksana_runs WHERE job_id = ANY($1)", P(ids));
                Add(batch, "DELETE FROM ksana_events WHERE job_id = ANY($1)", P(ids));
                Add(batch, "DELETE FROM ksana_active WHERE job_id = ANY($1)", P(ids));
            }
            // Last: the clock's row lock orders this batch's commit among every node's, and is held
            // only from here to the commit, so the nodes' batches overlap until this point.
            Add(batch, "UPDATE ksana_clock SET seq = seq + $1 WHERE id = 1", P(n));
            Add(batch, $"""
                INSERT INTO ksana_feed (seq, node, kind, job_id, item)
                SELECT {Base} - $1 + o, $2, k, j, i FROM unnest($3::smallint[], $4::uuid[], $5::text[]) WITH ORDINALITY AS u(k, j, i, o)
                """, P(n), P(node), P(feedKinds.ToArray()), P(feedJobs.ToArray()), P(feedItems.ToArray()));
            Add(batch, "SELECT pg_notify('ksana', $1)", P(node));
            return batch;
        }

        static NpgsqlParameter P<T>(T value) => new NpgsqlParameter<T> { TypedValue = value };

        static void Add(NpgsqlBatch batch, string sql, params NpgsqlParameter[] parameters)
        {
            var cmd = new NpgsqlBatchCommand(sql);
            foreach (var p in parameters) cmd.Parameters.Add(p);
            batch.BatchCommands.Add(cmd);
        }
    }
}
