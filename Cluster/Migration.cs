using Ksana.Scheduling;
using Ksana.Storage;
using Ksana.Wire;
using Npgsql;

namespace Ksana.Cluster;

/// <summary>
/// <c>ksana migrate --from DATA_DIR --to DATABASE_URL</c> (SPEC §12): copies a journal's jobs, runs,
/// undelivered events and remembered answers into an empty database, in one transaction, so a
/// single box can grow into a cluster. The data directory is locked while it is read (a running
/// ksana on it is refused) and left unchanged. A run the journal shows in flight is copied as failed
/// (interrupted), as a restart would record it.
/// </summary>
public static class Migration
{
    public const string Usage = "usage: ksana migrate --from DATA_DIR --to postgres://user:password@host:port/database";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        string? from = null, to = null;
        for (var i = 0; i < args.Length; i++)
        {
            var (name, value) = args[i].IndexOf('=') is var eq and > 0 ? (args[i][..eq], args[i][(eq + 1)..])
                : (args[i], i + 1 < args.Length ? args[++i] : null);
            switch (name)
            {
                case "--from": from = value; break;
                case "--to": to = value; break;
                default:
                    error.WriteLine($"ksana migrate: unexpected argument \"{args[i]}\"\n{Usage}");
                    return 2;
            }
        }
        if (string.IsNullOrEmpty(from) || string.IsNullOrEmpty(to))
        {
            error.WriteLine($"ksana migrate: --from and --to are both needed\n{Usage}");
            return 2;
        }
        if (DatabaseUrl.Check(to) is { } bad)
        {
            error.WriteLine($"ksana migrate: --to: {bad}");
            return 2;
        }
        if (!File.Exists(Path.Combine(from, Journal.FileName)))
        {
            error.WriteLine($"ksana migrate: --from {from}: no {Journal.FileName} there");
            return 2;
        }
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
        var log = loggers.CreateLogger("Ksana.Migrate");
        try
        {
            using var data = DataDir.Open(from, runsKept: 1000, maxJobs: 10_000_000, log);
            await using var db = ClusterStore.Connect(to);
            await Schema.MigrateAsync(db);
            await using (var check = db.CreateCommand("SELECT EXISTS (SELECT 1 FROM ksana_jobs) OR EXISTS (SELECT 1 FROM ksana_runs)"))
                if ((bool)(await check.ExecuteScalarAsync())!)
                {
                    error.WriteLine($"ksana migrate: {DatabaseUrl.Redacted(to)} already holds jobs; migrate copies into an empty database only");
                    return 1;
                }
            var now = Wire.Clock.Millis(DateTimeOffset.UtcNow);
            var writer = new PgChangeLog.BatchWriter(new LineEncoder());
            var (jobs, runs, events) = (0, 0, 0);
            foreach (var entry in data.Table.All())
            {
                writer.Add(Change.Written(entry.Job));
                jobs++;
                var kept = entry.Runs;
                for (var i = kept.Length - 1; i >= 0; i--)
                {
                    var run = kept[i];
                    if (!run.IsFinished)
                        run = run with { Status = RunStatus.Failed, FinishedAt = now, Error = "interrupted: Ksana stopped while this run was in flight" };
                    writer.Add(Change.Recorded(run));
                    runs++;
                }
                foreach (var e in entry.Outbox)
                {
                    writer.Add(Change.Queued(e));
                    events++;
                }
            }
            var answers = data.Table.Answers.Live();
            foreach (var answer in answers) writer.Add(Change.Remembered(answer));
            await using var conn = await db.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            await using (var batch = writer.Commands(conn, "migrate"))
            {
                batch.Transaction = tx;
                batch.Timeout = 600;
                await batch.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
            output.WriteLine($"ksana migrate: copied {jobs} jobs, {runs} runs, {events} events and {answers.Length} remembered answers from {from} to {DatabaseUrl.Redacted(to)}");
            return 0;
        }
        catch (StartupException e)
        {
            error.WriteLine($"ksana migrate: {e.Message}");
            return 1;
        }
        catch (Exception e) when (ClusterStore.IsDatabaseError(e))
        {
            error.WriteLine($"ksana migrate: {e.Message}; nothing was copied");
            return 1;
        }
    }
}
