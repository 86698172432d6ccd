using Npgsql;

namespace Ksana.Cluster;

/*
 * The cluster's tables (SPEC §12), created and migrated at start-up under an advisory lock, so
 * that nodes starting together migrate once. Each entry of Migrations is one version, applied in
 * its own transaction together with the new version number; a database newer than this binary is
 * refused rather than guessed at.
 *
 *   ksana_jobs     one row per job: its journal line ("doc", the same encoding as the journal)
 *   ksana_runs     one row per kept run (upsert by run id); first_seq (ksana_order) orders a job's history
 *   ksana_events   the outboxes for EVENTS_URL, one row per undelivered event
 *   ksana_answers  remembered answers for Idempotency-Key
 *   ksana_clock    one row: the last change number; every write batch takes its row lock, so
 *                  change numbers are handed out in commit order (readers never skip a late commit)
 *   ksana_feed     (seq, node, kind, id): what each batch changed, read by the other nodes
 *   ksana_nodes    each node's heartbeat (the database's clock) and how many jobs it holds
 *   ksana_leases   one row per partition of the jobs: which node fires them, until when
 *   ksana_claims   one row per (job, slot) ever fired: the guarantee that a slot fires once
 *   ksana_active   one row per job with a run in flight: runs of a job never overlap across
 *                  nodes, and a dead node's runs are found and recorded as interrupted
 */
public static class Schema
{
    /// <summary>Jobs are spread over nodes in this many partitions (by job id).</summary>
    public const int Partitions = 256;

    const long LockKey = 0x6b73616e61; // "ksana"

    static readonly string[] Migrations =
    [
        $"""
        CREATE TABLE ksana_jobs (id uuid PRIMARY KEY, part int NOT NULL, key text, doc text NOT NULL);
        CREATE INDEX ksana_jobs_key ON ksana_jobs (key) WHERE key IS NOT NULL;
        CREATE TABLE ksana_runs (run_id uuid PRIMARY KEY, job_id uuid NOT NULL, part int NOT NULL,
            first_seq bigint NOT NULL, doc text NOT NULL);
        CREATE INDEX ksana_runs_job ON ksana_runs (job_id, first_seq);
        CREATE TABLE ksana_events (id uuid PRIMARY KEY, job_id uuid NOT NULL, first_seq bigint NOT NULL, doc text NOT NULL);
        CREATE INDEX ksana_events_job ON ksana_events (job_id);
        CREATE TABLE ksana_answers (key text PRIMARY KEY, doc text NOT NULL, expires_at timestamptz NOT NULL);
        CREATE SEQUENCE ksana_order;
        CREATE TABLE ksana_clock (id int PRIMARY KEY, seq bigint NOT NULL);
        INSERT INTO ksana_clock VALUES (1, 0);
        CREATE TABLE ksana_feed (seq bigint PRIMARY KEY, node text NOT NULL, kind smallint NOT NULL,
            job_id uuid NOT NULL, item text NOT NULL, at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE ksana_nodes (name text PRIMARY KEY, started_at timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL, jobs int NOT NULL DEFAULT 0);
        CREATE TABLE ksana_leases (part int PRIMARY KEY, node text, expires_at timestamptz NOT NULL);
        INSERT INTO ksana_leases SELECT g, NULL, '-infinity' FROM generate_series(0, {Partitions - 1}) g;
        CREATE TABLE ksana_claims (job_id uuid NOT NULL, slot text NOT NULL, run_id uuid NOT NULL, node text NOT NULL,
            claimed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job_id, slot));
        CREATE INDEX ksana_claims_at ON ksana_claims (claimed_at);
        CREATE TABLE ksana_active (job_id uuid PRIMARY KEY, run_id uuid NOT NULL, node text NOT NULL, part int NOT NULL,
            slot text NOT NULL, trigger text NOT NULL, scheduled_at bigint NOT NULL);
        CREATE INDEX ksana_active_part ON ksana_active (part);

        -- Claims a run before its first attempt (one round trip, atomic):
        --   0 claimed; 1 not the lease holder (fenced runs only); 2 the slot was already fired; 3 a run
        --   of the job is in flight on another node. A row this node left for a run that has ended
        --   here (its final record not yet written) is replaced: the caller knows nothing is in flight.
        CREATE FUNCTION ksana_claim(p_job uuid, p_slot text, p_run uuid, p_node text, p_part int, p_fenced bool,
                                    p_trigger text, p_scheduled bigint) RETURNS int LANGUAGE plpgsql AS $$
        BEGIN
            IF p_fenced AND NOT EXISTS (SELECT 1 FROM ksana_leases WHERE part = p_part AND node = p_node AND expires_at > now()) THEN
                RETURN 1;
            END IF;
            INSERT INTO ksana_active AS a (job_id, run_id, node, part, slot, trigger, scheduled_at)
                VALUES (p_job, p_run, p_node, p_part, p_slot, p_trigger, p_scheduled)
                ON CONFLICT (job_id) DO UPDATE SET run_id = EXCLUDED.run_id, slot = EXCLUDED.slot,
                    trigger = EXCLUDED.trigger, scheduled_at = EXCLUDED.scheduled_at
                WHERE a.node = p_node;
            IF NOT FOUND THEN
                RETURN 3;
            END IF;
            INSERT INTO ksana_claims (job_id, slot, run_id, node) VALUES (p_job, p_slot, p_run, p_node) ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                DELETE FROM ksana_active WHERE job_id = p_job AND run_id = p_run;
                RETURN 2;
            END IF;
            RETURN 0;
        END $$;

        -- Many claims in one statement and one commit, answered in the order given; callers sort by job.
        CREATE FUNCTION ksana_claim_many(p_jobs uuid[], p_slots text[], p_runs uuid[], p_node text, p_parts int[],
                                         p_fenced bool[], p_triggers text[], p_scheduled bigint[]) RETURNS int[] LANGUAGE plpgsql AS $$
        DECLARE
            codes int[] := ARRAY[]::int[];
        BEGIN
            FOR i IN 1 .. coalesce(array_length(p_jobs, 1), 0) LOOP
                codes := codes || ksana_claim(p_jobs[i], p_slots[i], p_runs[i], p_node, p_parts[i], p_fenced[i], p_triggers[i], p_scheduled[i]);
            END LOOP;
            RETURN codes;
        END $$;
        """,
    ];

    public static int Latest => Migrations.Length;

    /// <summary>Brings the schema to <see cref="Latest"/>; returns the version found before.</summary>
    public static async Task<int> MigrateAsync(NpgsqlDataSource db, CancellationToken cancel = default)
    {
        await using var conn = await db.OpenConnectionAsync(cancel);
        await using var tx = await conn.BeginTransactionAsync(cancel);
        // Held until the transaction ends: a second node waits here, then finds the work done.
        await Exec(conn, tx, $"SELECT pg_advisory_xact_lock({LockKey})", cancel);
        await Exec(conn, tx, "CREATE TABLE IF NOT EXISTS ksana_schema (version int NOT NULL)", cancel);
        int found;
        await using (var read = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM ksana_schema", conn, tx))
            found = Convert.ToInt32(await read.ExecuteScalarAsync(cancel));
        if (found > Latest)
            throw new Storage.StartupException(
                $"DATABASE_URL: the schema is at version {found}, newer than this ksana knows ({Latest}); upgrade ksana");
        for (var v = found; v < Latest; v++)
            await Exec(conn, tx, Migrations[v], cancel);
        if (found < Latest)
        {
            await Exec(conn, tx, "DELETE FROM ksana_schema", cancel);
            await Exec(conn, tx, $"INSERT INTO ksana_schema VALUES ({Latest})", cancel);
        }
        await tx.CommitAsync(cancel);
        return found;
    }

    static async Task Exec(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, CancellationToken cancel)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        await cmd.ExecuteNonQueryAsync(cancel);
    }

    /// <summary>The partition of a job: spread evenly, since the last 62 bits of a job id are random (Ids).</summary>
    public static int PartOf(Guid jobId)
    {
        Span<byte> bytes = stackalloc byte[16];
        jobId.TryWriteBytes(bytes);
        return (int)(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]) % Partitions);
    }
}
