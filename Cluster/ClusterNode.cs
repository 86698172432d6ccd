using System.Text;
using System.Threading.Channels;
using Ksana.Scheduling;
using Ksana.Storage;
using Ksana.Wire;
using Npgsql;

namespace Ksana.Cluster;

/*
 * One node of a cluster (SPEC §12): its leases, its claims, and its copy of the shared state.
 *
 * Ownership. Jobs fall into Schema.Partitions partitions by id. Every LEASE_TTL/8 the node, in one
 * transaction, beats its heartbeat, renews its leases to now() + LEASE_TTL (the database's clock:
 * node clocks never decide), gives back partitions above its fair share (ceil(partitions / live
 * nodes)) and takes free or expired ones up to it. A partition is given back only when no run of
 * its jobs is in flight here, so runs of a job never overlap across nodes. The node fires a job only
 * while it holds the partition and less than 0.9 × LEASE_TTL has passed (on its own monotonic clock)
 * since the start of the round that last renewed it: a node that cannot renew stops firing before
 * its lease can expire (a slot due meanwhile waits up to LEASE_TTL for the renewal: Scheduler.Renewing).
 * Housekeeping runs in a loop of its own, so a slow delete never delays a renewal. Every run is
 * still claimed by a row unique per (job, slot), fenced by the lease inside the database, so two
 * nodes that both believe they own a job fire its slot once.
 *
 * Takeover. Partitions taken from a dead node are repaired by the taker: the runs the dead node
 * had in flight (its rows in ksana_active) are recorded as failed (interrupted), and the slots that
 * fell in the gap follow each job's catch_up rule (Jobs.TakeOverAsync), in a loop of its own that
 * tries again while the database refuses the repairs: the lease round only hands the jobs over.
 *
 * The shared state. Every node keeps the whole table in memory, loaded at start-up, and follows
 * the feed: each write batch adds a row per change with a number from ksana_clock (handed out in
 * commit order) and a NOTIFY; the node reads the feed past its last number and fetches what other
 * nodes changed. A missed NOTIFY costs at most the poll interval; a node cut off for longer than
 * the feed is kept reloads the whole state.
 */
public sealed class ClusterNode : BackgroundService
{
    static readonly TimeSpan FeedPoll = TimeSpan.FromMilliseconds(500);
    static readonly TimeSpan Maintenance = TimeSpan.FromSeconds(30);

    readonly NpgsqlDataSource _db;
    readonly JobTable _table;
    readonly PgChangeLog _log;
    readonly TimeProvider _time;
    readonly ILogger _logger;
    readonly TimeSpan _ttl;
    readonly int[] _owned = new int[Schema.Partitions];
    readonly SemaphoreSlim _feedSignal = new(0);
    long _validUntil; // TimeProvider timestamp
    long _feedSeq;
    bool _firstRound = true;

    public ClusterNode(NpgsqlDataSource db, JobTable table, PgChangeLog log, string name, TimeSpan ttl, long feedSeq,
        TimeProvider time, ILogger<ClusterNode> logger)
    {
        _db = db;
        _table = table;
        _log = log;
        Name = name;
        _ttl = ttl;
        _feedSeq = feedSeq;
        _time = time;
        _logger = logger;
    }

    public string Name { get; }

    /// <summary>Repairs the jobs of partitions just taken (catch_up, missed once jobs): Jobs.TakeOverAsync.</summary>
    public Func<IReadOnlyList<JobEntry>, Task>? TakeOver { get; set; }

    /// <summary>Whether EVENTS_URL is set: a dead node's interrupted runs send run.failed.</summary>
    public bool EventsOn { get; set; }

    /// <summary>Whether a run of the job is in flight on this node.</summary>
    public Func<Guid, bool>? RunningHere { get; set; }

    /// <summary>Another node deleted this job: stop its run here, if any.</summary>
    public Action<Guid>? Deleted { get; set; }

    /// <summary>Events of jobs just taken over may be waiting in their outbox: wake the sender.</summary>
    public Action<Guid>? OutboxTaken { get; set; }

    /// <summary>
    /// Whether the leases held here are past the point where this node may fire on them and the
    /// round that renews them has not ended yet (or no round has ended since start-up).
    /// </summary>
    public bool Renewing => _time.GetTimestamp() >= Volatile.Read(ref _validUntil);

    /// <summary>Whether this node may fire the job now (see the header).</summary>
    public bool Owns(Guid jobId) =>
        Volatile.Read(ref _owned[Schema.PartOf(jobId)]) == 1 && _time.GetTimestamp() < Volatile.Read(ref _validUntil);

    /// <summary>
    /// The claim of SPEC §12. Claims are gathered while the previous round trip is out and sent
    /// together (the ksana_claim_many function: one statement, one commit), sorted by job so two
    /// nodes' batches lock rows in the same order. Under a burst this turns thousands of commits a
    /// second into a few hundred.
    /// </summary>
    public ValueTask<ClaimResult> ClaimAsync(RunInFlight run, bool fenced)
    {
        var pending = new PendingClaim(run, fenced);
        _claims.Enqueue(pending);
        if (Interlocked.Exchange(ref _claimSignalled, 1) == 0) _claimSignal.Release();
        return new ValueTask<ClaimResult>(pending.Done.Task);
    }

    sealed class PendingClaim(RunInFlight run, bool fenced)
    {
        public readonly RunInFlight Run = run;
        public readonly bool Fenced = fenced;
        public readonly TaskCompletionSource<ClaimResult> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    const int ClaimsPerTrip = 2000;
    readonly System.Collections.Concurrent.ConcurrentQueue<PendingClaim> _claims = new();
    readonly SemaphoreSlim _claimSignal = new(0);
    int _claimSignalled;

    async Task ClaimLoop(CancellationToken stopping)
    {
        var batch = new List<PendingClaim>(ClaimsPerTrip);
        while (true)
        {
            try
            {
                await _claimSignal.WaitAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                while (_claims.TryDequeue(out var left)) left.Done.TrySetResult(ClaimResult.Unavailable);
                return;
            }
            Volatile.Write(ref _claimSignalled, 0);
            while (!_claims.IsEmpty)
            {
                batch.Clear();
                while (batch.Count < ClaimsPerTrip && _claims.TryDequeue(out var next)) batch.Add(next);
                batch.Sort(static (a, b) => a.Run.Job.Id.CompareTo(b.Run.Job.Id));
                try
                {
                    var codes = await ClaimManyAsync(batch, stopping);
                    for (var i = 0; i < batch.Count; i++)
                        batch[i].Done.TrySetResult(codes[i] switch
                        {
                            0 => ClaimResult.Claimed,
                            1 => ClaimResult.NotOwner,
                            2 => ClaimResult.AlreadyFired,
                            _ => ClaimResult.Busy,
                        });
                }
                catch (Exception e) when (ClusterStore.IsDatabaseError(e) || e is OperationCanceledException)
                {
                    foreach (var claim in batch) claim.Done.TrySetResult(ClaimResult.Unavailable);
                }
            }
        }
    }

    async Task<int[]> ClaimManyAsync(List<PendingClaim> batch, CancellationToken stopping)
    {
        var n = batch.Count;
        var jobs = new Guid[n];
        var slots = new string[n];
        var runs = new Guid[n];
        var parts = new int[n];
        var fenced = new bool[n];
        var triggers = new string[n];
        var scheduled = new long[n];
        for (var i = 0; i < n; i++)
        {
            var run = batch[i].Run;
            jobs[i] = run.Job.Id;
            slots[i] = run.ClaimSlot;
            runs[i] = run.Id;
            parts[i] = Schema.PartOf(run.Job.Id);
            fenced[i] = batch[i].Fenced;
            triggers[i] = Names.Of(run.Trigger);
            scheduled[i] = run.ScheduledAt.ToUnixTimeMilliseconds();
        }
        await using var cmd = _db.CreateCommand("SELECT ksana_claim_many($1, $2, $3, $4, $5, $6, $7, $8)");
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = jobs });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = slots });
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = runs });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Name });
        cmd.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = parts });
        cmd.Parameters.Add(new NpgsqlParameter<bool[]> { TypedValue = fenced });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = triggers });
        cmd.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = scheduled });
        var codes = (int[]?)await cmd.ExecuteScalarAsync(stopping) ?? [];
        if (codes.Length != n) throw new InvalidOperationException($"ksana_claim_many answered {codes.Length} codes for {n} claims");
        return codes;
    }

    public readonly record struct NodeRow(string Name, DateTimeOffset LastSeenAt, long Jobs);

    /// <summary>GET /cluster: the nodes seen in the last hour, by name.</summary>
    public async Task<List<NodeRow>> NodesAsync(CancellationToken cancel)
    {
        await using var cmd = _db.CreateCommand("SELECT name, last_seen_at, jobs FROM ksana_nodes ORDER BY name");
        await using var reader = await cmd.ExecuteReaderAsync(cancel);
        var nodes = new List<NodeRow>();
        while (await reader.ReadAsync(cancel))
            nodes.Add(new NodeRow(reader.GetString(0), new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero), reader.GetInt32(2)));
        return nodes;
    }

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        await Task.WhenAll(LeaseLoop(stopping), FeedLoop(stopping), ListenLoop(stopping), ClaimLoop(stopping), MaintenanceLoop(stopping),
            TakeOverLoop(stopping));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // A node that stops cleanly gives its partitions back at once instead of making the others wait a lease.
        for (var p = 0; p < _owned.Length; p++) Volatile.Write(ref _owned[p], 0);
        try
        {
            await using var batch = _db.CreateBatch();
            batch.BatchCommands.Add(Command("UPDATE ksana_leases SET node = NULL, expires_at = '-infinity' WHERE node = $1", Name));
            batch.BatchCommands.Add(Command("DELETE FROM ksana_nodes WHERE name = $1", Name));
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception e) when (ClusterStore.IsDatabaseError(e) || e is OperationCanceledException)
        {
            _logger.LogWarning("Cluster: leases not given back on shutdown ({Error}); they expire within {Ttl}", e.Message, _ttl);
        }
    }

    // ---- leases ------------------------------------------------------------------------------

    async Task LeaseLoop(CancellationToken stopping)
    {
        var period = _ttl / 8;
        while (!stopping.IsCancellationRequested)
        {
            var began = _time.GetTimestamp();
            var lapsed = !_firstRound && Renewing;
            try
            {
                await RoundAsync(began, stopping);
                var took = _time.GetElapsedTime(began);
                if (lapsed || took > _ttl / 4)
                    _logger.LogWarning("Cluster: a lease round took {Ms:0} ms (LEASE_TTL {Ttl}){Lapsed}", took.TotalMilliseconds, _ttl,
                        lapsed ? "; the leases had lapsed here before it began, so firing was paused" : "");
            }
            catch (Exception e) when (ClusterStore.IsDatabaseError(e))
            {
                _log.Unreachable(e.Message);
                _logger.LogWarning("Cluster: PostgreSQL cannot be reached ({Error}); writes are refused, and firing stops when the leases run out", e.Message);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            try
            {
                await Task.Delay(period - _time.GetElapsedTime(began) is { Ticks: > 0 } rest ? rest : TimeSpan.Zero, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    async Task RoundAsync(long began, CancellationToken stopping)
    {
        var byPart = JobsByPartition();
        var held = new List<int>();
        var acquired = new List<(int Part, string? Previous)>();
        var dead = new List<(Guid Job, Guid Run, string Node, string Trigger, long ScheduledAt)>();
        await using (var conn = await _db.OpenConnectionAsync(stopping))
        await using (var tx = await conn.BeginTransactionAsync(stopping))
        {
            var jobsHeld = 0;
            for (var p = 0; p < _owned.Length; p++)
                if (Volatile.Read(ref _owned[p]) == 1) jobsHeld += byPart[p]?.Count ?? 0;
            int live;
            await using (var beat = new NpgsqlBatch(conn, tx))
            {
                beat.BatchCommands.Add(Command("""
                    INSERT INTO ksana_nodes (name, started_at, last_seen_at, jobs) VALUES ($1, now(), now(), $2)
                    ON CONFLICT (name) DO UPDATE SET last_seen_at = now(), jobs = $2
                    """, Name, jobsHeld));
                beat.BatchCommands.Add(Command("SELECT count(*) FROM ksana_nodes WHERE last_seen_at > now() - $1", _ttl));
                beat.BatchCommands.Add(Command("UPDATE ksana_leases SET expires_at = now() + $2 WHERE node = $1 RETURNING part", Name, _ttl));
                await using var reader = await beat.ExecuteReaderAsync(stopping);
                await reader.ReadAsync(stopping);
                live = Math.Max(1, (int)reader.GetInt64(0));
                await reader.NextResultAsync(stopping);
                while (await reader.ReadAsync(stopping)) held.Add(reader.GetInt32(0));
            }
            var share = (Schema.Partitions + live - 1) / live;
            // Partitions held here that the database no longer gives this node stop firing at once.
            var heldSet = new HashSet<int>(held);
            for (var p = 0; p < _owned.Length; p++)
                if (!heldSet.Contains(p)) Volatile.Write(ref _owned[p], 0);

            if (held.Count > share)
            {
                var release = new List<int>();
                for (var i = held.Count - 1; i >= 0 && held.Count - release.Count > share; i--)
                {
                    var p = held[i];
                    if (byPart[p] is { } jobs && RunningHere is { } running && jobs.Exists(id => running(id))) continue;
                    release.Add(p);
                    Volatile.Write(ref _owned[p], 0);
                }
                if (release.Count > 0)
                {
                    await using var give = new NpgsqlCommand(
                        "UPDATE ksana_leases SET node = NULL, expires_at = '-infinity' WHERE node = $1 AND part = ANY($2)", conn, tx);
                    give.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Name });
                    give.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = release.ToArray() });
                    await give.ExecuteNonQueryAsync(stopping);
                    held.RemoveAll(release.Contains);
                }
            }
            else if (held.Count < share)
            {
                await using var take = new NpgsqlCommand("""
                    WITH free AS (
                        SELECT part, node FROM ksana_leases WHERE node IS NULL OR expires_at < now()
                        ORDER BY part LIMIT $2 FOR UPDATE SKIP LOCKED)
                    UPDATE ksana_leases l SET node = $1, expires_at = now() + $3 FROM free WHERE l.part = free.part
                    RETURNING l.part, free.node
                    """, conn, tx);
                take.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Name });
                take.Parameters.Add(new NpgsqlParameter<int> { TypedValue = share - held.Count });
                take.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _ttl });
                await using var reader = await take.ExecuteReaderAsync(stopping);
                while (await reader.ReadAsync(stopping))
                    acquired.Add((reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
            }
            foreach (var (p, _) in acquired) held.Add(p);

            // Runs left in flight by nodes that are gone (or by this node before a restart), in partitions held here.
            await using (var orphans = new NpgsqlCommand("""
                SELECT job_id, run_id, node, trigger, scheduled_at FROM ksana_active a
                WHERE a.part = ANY($2) AND (a.node = $1 AND $4 OR a.node <> $1 AND NOT EXISTS (
                    SELECT 1 FROM ksana_nodes n WHERE n.name = a.node AND n.last_seen_at > now() - $3))
                """, conn, tx))
            {
                orphans.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Name });
                orphans.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = held.ToArray() });
                orphans.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _ttl });
                orphans.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = _firstRound });
                await using var reader = await orphans.ExecuteReaderAsync(stopping);
                while (await reader.ReadAsync(stopping))
                    dead.Add((reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4)));
            }
            await tx.CommitAsync(stopping);
        }
        // Valid from the moment the round began: the database set expiry no earlier than that plus the TTL.
        Volatile.Write(ref _validUntil, began + (long)(_ttl.TotalSeconds * 0.9 * _time.TimestampFrequency));
        foreach (var p in held) Volatile.Write(ref _owned[p], 1);
        _log.Reachable();
        _firstRound = false;

        foreach (var orphan in dead) Interrupted(orphan);
        if (acquired.Count > 0)
        {
            var taken = new List<Guid>();
            foreach (var (p, _) in acquired)
                if (byPart[p] is { } jobs) taken.AddRange(jobs);
            _logger.LogInformation("Cluster: took {Partitions} partitions ({Jobs} jobs); holding {Held}", acquired.Count, taken.Count, held.Count);
            if (taken.Count > 0) _taken.Writer.TryWrite(taken);
        }
    }

    readonly Channel<List<Guid>> _taken = Channel.CreateUnbounded<List<Guid>>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Between attempts at a takeover that failed (PostgreSQL unreachable).</summary>
    TimeSpan TakeOverRetry => _ttl / 8;

    /// <summary>
    /// The repairs of partitions just taken (<see cref="TakeOver"/>), in a loop of their own. They
    /// used to be awaited inside the lease round: repairing thousands of jobs (a write each, and
    /// their catch-ups) held up the next renewal, and a write refused by an unreachable database
    /// ended the lease loop for good, so the node never renewed again. A takeover that fails is
    /// tried again, for the jobs whose partitions are still held here, until it succeeds.
    /// </summary>
    async Task TakeOverLoop(CancellationToken stopping)
    {
        while (true)
        {
            try
            {
                await _taken.Reader.WaitToReadAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var ids = new List<Guid>();
            while (_taken.Reader.TryRead(out var more)) ids.AddRange(more);
            while (ids.Count > 0)
            {
                // As they are now, and only while their partition is still held here: a partition
                // given up or lost meanwhile is repaired by the node that takes it.
                var entries = new List<JobEntry>(ids.Count);
                foreach (var id in ids)
                    if (Volatile.Read(ref _owned[Schema.PartOf(id)]) == 1 && _table.Get(id) is { } entry) entries.Add(entry);
                try
                {
                    if (TakeOver is { } takeOver && entries.Count > 0) await takeOver(entries);
                    foreach (var entry in entries)
                        if (entry.Outbox.Length > 0) OutboxTaken?.Invoke(entry.Job.Id);
                    break;
                }
                catch (Exception e) when (e is ChangeLogUnavailableException || ClusterStore.IsDatabaseError(e))
                {
                    _logger.LogWarning("Cluster: the takeover of {Jobs} jobs failed ({Error}); it is tried again in {Retry}",
                        entries.Count, e.Message, TakeOverRetry);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A fault of ours, not the database's: trying again would fail again. The loop goes on for the next takeover.
                    _logger.LogError(e, "Cluster: the takeover of {Jobs} jobs failed; their catch-ups and missed runs are not repaired", entries.Count);
                    break;
                }
                try
                {
                    await Task.Delay(TakeOverRetry, _time, stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    List<Guid>?[] JobsByPartition()
    {
        var byPart = new List<Guid>?[Schema.Partitions];
        foreach (var id in _table.Ids()) (byPart[Schema.PartOf(id)] ??= []).Add(id);
        return byPart;
    }

    /// <summary>
    /// A run left in flight by a node that is gone is recorded as failed (interrupted); its final
    /// record also releases the job (the batch deletes its ksana_active row).
    /// </summary>
    void Interrupted((Guid Job, Guid Run, string Node, string Trigger, long ScheduledAt) orphan)
    {
        var now = Clock.Millis(_time.GetUtcNow());
        var error = $"interrupted: node {orphan.Node} stopped while this run was in flight";
        var entry = _table.Get(orphan.Job);
        if (entry is null) return;
        var known = entry.Runs.Find(orphan.Run);
        if (known is { IsFinished: true }) return;
        var run = known is not null
            ? known with { Status = RunStatus.Failed, FinishedAt = now, Error = error }
            : new Run(orphan.Run, orphan.Job, Names.TryParse(orphan.Trigger, out RunTrigger t) ? t : RunTrigger.Schedule, RunStatus.Failed,
                DateTimeOffset.FromUnixTimeMilliseconds(orphan.ScheduledAt), now, [], error);
        try
        {
            // It ended failed like any other run (SPEC §9): the streak, the pause, run.failed.
            _ = _table.FinishRun(run, job => RunConsequences.Of(job, run, EventsOn, now));
            _logger.LogWarning("Cluster: run {RunId} of job {JobId} was in flight on {Node}, which is gone: recorded as interrupted",
                Scheduling.Run.Text(orphan.Run), orphan.Job, orphan.Node);
        }
        catch (ChangeLogUnavailableException)
        {
            // Found again at the next round.
        }
    }

    /// <summary>
    /// Housekeeping every <see cref="Maintenance"/>, in a loop of its own. It used to run inside the
    /// lease loop's round: its deletes (old run rows of every partition held, with a window over
    /// them) could take seconds on a loaded database, the next renewal waited for them, and the
    /// node's leases lapsed meanwhile, so it stopped firing (SPEC §12) while nothing was wrong.
    /// </summary>
    async Task MaintenanceLoop(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Maintenance, _time, stopping);
                var held = new List<int>();
                for (var p = 0; p < _owned.Length; p++)
                    if (Volatile.Read(ref _owned[p]) == 1) held.Add(p);
                var began = _time.GetTimestamp();
                await MaintainAsync(held, stopping);
                if (_time.GetElapsedTime(began) is var took && took > Maintenance / 10)
                    _logger.LogWarning("Cluster: housekeeping took {Ms:0} ms", took.TotalMilliseconds);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (ClusterStore.IsDatabaseError(e))
            {
                _logger.LogWarning("Cluster: housekeeping failed ({Error}); it runs again in {Every}", e.Message, Maintenance);
            }
        }
    }

    /// <summary>Bounds every table that grows: the feed, old claims, expired answers, runs past the history, nodes long gone.</summary>
    async Task MaintainAsync(List<int> held, CancellationToken stopping)
    {
        await using var batch = _db.CreateBatch();
        batch.BatchCommands.Add(Command("DELETE FROM ksana_feed WHERE at < now() - interval '10 minutes'"));
        batch.BatchCommands.Add(Command("DELETE FROM ksana_claims WHERE claimed_at < now() - interval '2 days'"));
        batch.BatchCommands.Add(Command("DELETE FROM ksana_answers WHERE expires_at < now()"));
        batch.BatchCommands.Add(Command("DELETE FROM ksana_nodes WHERE last_seen_at < now() - interval '1 hour'"));
        batch.BatchCommands.Add(Command("""
            DELETE FROM ksana_runs r USING (
                SELECT run_id FROM (
                    SELECT run_id, row_number() OVER (PARTITION BY job_id ORDER BY first_seq DESC) AS n
                    FROM ksana_runs WHERE part = ANY($1)) x
                WHERE n > $2) old
            WHERE r.run_id = old.run_id
            """, held.ToArray(), 2 * _table.RunsKept));
        await batch.ExecuteNonQueryAsync(stopping);
    }

    static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
            cmd.Parameters.Add(value switch
            {
                string v => new NpgsqlParameter<string> { TypedValue = v },
                int v => new NpgsqlParameter<int> { TypedValue = v },
                TimeSpan v => new NpgsqlParameter<TimeSpan> { TypedValue = v },
                int[] v => new NpgsqlParameter<int[]> { TypedValue = v },
                _ => throw new ArgumentException($"no parameter type for {value.GetType().Name}"),
            });
        return cmd;
    }

    // ---- the feed ------------------------------------------------------------------------------

    async Task ListenLoop(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var conn = await _db.OpenConnectionAsync(stopping);
                conn.Notification += (_, e) =>
                {
                    if (e.Payload != Name) _feedSignal.Release();
                };
                await using (var listen = new NpgsqlCommand("LISTEN ksana", conn)) await listen.ExecuteNonQueryAsync(stopping);
                _feedSignal.Release(); // anything written before LISTEN took effect
                while (!stopping.IsCancellationRequested) await conn.WaitAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (ClusterStore.IsDatabaseError(e))
            {
                try { await Task.Delay(FeedPoll, _time, stopping); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    async Task FeedLoop(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _feedSignal.WaitAsync(FeedPoll, stopping);
                while (_feedSignal.CurrentCount > 0) _feedSignal.Wait(0);
                while (await FollowAsync(stopping)) { }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (ClusterStore.IsDatabaseError(e))
            {
                // The lease loop reports the outage; the feed picks up where it stopped.
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                _logger.LogError("Cluster: a record in the database cannot be read ({Error}); reloading everything", e.Message);
                await ReloadAsync(stopping);
            }
        }
    }

    /// <summary>Applies the next part of the feed; true when there may be more.</summary>
    async Task<bool> FollowAsync(CancellationToken stopping)
    {
        const int Page = 5000;
        var jobs = new HashSet<Guid>();
        var runs = new HashSet<Guid>();
        var outboxes = new HashSet<Guid>();
        var answers = new HashSet<string>(StringComparer.Ordinal);
        var last = _feedSeq;
        var rows = 0;
        await using (var cmd = _db.CreateCommand("SELECT seq, node, kind, job_id, item FROM ksana_feed WHERE seq > $1 ORDER BY seq LIMIT $2"))
        {
            cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _feedSeq });
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Page });
            await using var reader = await cmd.ExecuteReaderAsync(stopping);
            while (await reader.ReadAsync(stopping))
            {
                var seq = reader.GetInt64(0);
                if (rows++ == 0 && seq != _feedSeq + 1)
                {
                    // The feed was trimmed past this node's place: it cannot know what it missed.
                    _logger.LogWarning("Cluster: this node fell behind the change feed; reloading the whole state");
                    await reader.DisposeAsync();
                    await ReloadAsync(stopping);
                    return false;
                }
                last = seq;
                if (reader.GetString(1) == Name) continue;
                var job = reader.GetGuid(3);
                switch (reader.GetInt16(2))
                {
                    case PgChangeLog.FeedJob: jobs.Add(job); break;
                    case PgChangeLog.FeedRun: runs.Add(Guid.ParseExact(reader.GetString(4), "N")); break;
                    case PgChangeLog.FeedOutbox: outboxes.Add(job); break;
                    case PgChangeLog.FeedAnswer: answers.Add(reader.GetString(4)); break;
                }
            }
        }
        if (rows == 0) return false;
        if (jobs.Count > 0)
        {
            var found = new HashSet<Guid>();
            await foreach (var (id, doc) in Rows("SELECT id, doc FROM ksana_jobs WHERE id = ANY($1)", jobs.ToArray(), stopping))
            {
                found.Add(id);
                _table.ApplyRemoteJob(id, Decode(doc).Job);
            }
            foreach (var id in jobs)
                if (!found.Contains(id))
                {
                    _table.ApplyRemoteJob(id, null);
                    Deleted?.Invoke(id);
                }
        }
        if (runs.Count > 0)
            await foreach (var (_, doc) in Rows("SELECT run_id, doc FROM ksana_runs WHERE run_id = ANY($1)", runs.ToArray(), stopping))
                _table.ApplyRemoteRun(Decode(doc).Run!);
        if (outboxes.Count > 0)
        {
            var boxes = outboxes.ToDictionary(id => id, _ => new List<Event>());
            await foreach (var (id, doc) in Rows("SELECT job_id, doc FROM ksana_events WHERE job_id = ANY($1) ORDER BY first_seq", outboxes.ToArray(), stopping))
                boxes[id].Add(Decode(doc).Event!);
            foreach (var (id, events) in boxes) _table.ApplyRemoteOutbox(id, events.ToArray());
        }
        if (answers.Count > 0)
        {
            await using var cmd = _db.CreateCommand("SELECT doc FROM ksana_answers WHERE key = ANY($1)");
            cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = answers.ToArray() });
            await using var reader = await cmd.ExecuteReaderAsync(stopping);
            while (await reader.ReadAsync(stopping)) _table.ApplyRemoteAnswer(Decode(reader.GetString(0)).Answer!);
        }
        _feedSeq = last;
        return rows == Page;
    }

    async IAsyncEnumerable<(Guid Id, string Doc)> Rows(string sql, Guid[] ids,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken stopping)
    {
        await using var cmd = _db.CreateCommand(sql);
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids });
        await using var reader = await cmd.ExecuteReaderAsync(stopping);
        while (await reader.ReadAsync(stopping)) yield return (reader.GetGuid(0), reader.GetString(1));
    }

    /// <summary>A document as a change; the table numbers the jobs it is given (JobTable.ApplyRemoteJob).</summary>
    static Change Decode(string doc) => LineDecoder.Decode(Encoding.UTF8.GetBytes(doc)).Change;

    /// <summary>Replaces this node's copy with the database's (a node that fell behind the feed).</summary>
    async Task ReloadAsync(CancellationToken stopping)
    {
        var loaded = await LoadAsync(_db, stopping);
        var present = new HashSet<Guid>();
        foreach (var change in loaded.Changes)
        {
            switch (change.Kind)
            {
                case ChangeKind.JobWritten:
                    present.Add(change.Job!.Id);
                    _table.ApplyRemoteJob(change.Job.Id, change.Job);
                    break;
                case ChangeKind.RunWritten: _table.ApplyRemoteRun(change.Run!); break;
                case ChangeKind.AnswerRemembered: _table.ApplyRemoteAnswer(change.Answer!); break;
            }
        }
        foreach (var id in _table.Ids())
            if (!present.Contains(id))
            {
                _table.ApplyRemoteJob(id, null);
                Deleted?.Invoke(id);
            }
        var outboxes = new Dictionary<Guid, List<Event>>();
        foreach (var change in loaded.Changes)
            if (change.Kind == ChangeKind.EventQueued) (outboxes.TryGetValue(change.Event!.JobId, out var l) ? l : outboxes[change.Event.JobId] = []).Add(change.Event);
        foreach (var id in present) _table.ApplyRemoteOutbox(id, outboxes.TryGetValue(id, out var events) ? events.ToArray() : []);
        _feedSeq = loaded.Seq;
    }

    public readonly record struct Loaded(long Seq, List<Change> Changes);

    /// <summary>
    /// The whole state, in one consistent snapshot, as changes in the order the journal would
    /// replay them (jobs, then runs oldest first, events, answers), and the feed number it is at.
    /// </summary>
    public static async Task<Loaded> LoadAsync(NpgsqlDataSource db, CancellationToken cancel)
    {
        await using var conn = await db.OpenConnectionAsync(cancel);
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancel);
        long seq;
        await using (var cmd = new NpgsqlCommand("SELECT seq FROM ksana_clock WHERE id = 1", conn, tx))
            seq = Convert.ToInt64(await cmd.ExecuteScalarAsync(cancel));
        var changes = new List<Change>();
        foreach (var sql in (string[])[
            "SELECT doc FROM ksana_jobs",
            "SELECT doc FROM ksana_runs ORDER BY first_seq",
            "SELECT doc FROM ksana_events ORDER BY first_seq",
            "SELECT doc FROM ksana_answers WHERE expires_at > now()"])
        {
            await using var cmd = new NpgsqlCommand(sql, conn, tx);
            await using var reader = await cmd.ExecuteReaderAsync(cancel);
            while (await reader.ReadAsync(cancel)) changes.Add(Decode(reader.GetString(0)));
        }
        await tx.CommitAsync(cancel);
        return new Loaded(seq, changes);
    }
}
