using Ksana.Storage;
using Ksana.Scheduling;
using Npgsql;

namespace Ksana.Cluster;

/// <summary>
/// Cluster mode's counterpart of <see cref="Storage.DataDir"/>: the database reached and migrated,
/// its state loaded into a <see cref="JobTable"/>, and the table attached to a
/// <see cref="PgChangeLog"/> for every later change.
/// </summary>
public sealed class ClusterStore : IDisposable
{
    public NpgsqlDataSource Database { get; }
    public PgChangeLog Log { get; }
    public JobTable Table { get; }

    /// <summary>The feed number the loaded state is at: the node follows the feed from there.</summary>
    public long FeedSeq { get; }

    ClusterStore(NpgsqlDataSource db, PgChangeLog log, JobTable table, long feedSeq)
    {
        Database = db;
        Log = log;
        Table = table;
        FeedSeq = feedSeq;
    }

    /// <summary>What a lost or refused database connection throws (as opposed to a bug): answered 503, retried, or reported.</summary>
    public static bool IsDatabaseError(Exception e) =>
        e is NpgsqlException or IOException or TimeoutException or System.Net.Sockets.SocketException or InvalidOperationException;

    public static NpgsqlDataSource Connect(string url)
    {
        var builder = new NpgsqlSlimDataSourceBuilder(DatabaseUrl.ConnectionString(url));
        builder.EnableArrays();
        return builder.Build();
    }

    public static ClusterStore Open(string url, string node, int runsKept, int maxJobs, ILogger log, TimeProvider time)
    {
        var db = Connect(url);
        try
        {
            var before = Schema.MigrateAsync(db).GetAwaiter().GetResult();
            if (before < Schema.Latest) log.LogInformation("Cluster: schema migrated from version {From} to {To}", before, Schema.Latest);
            var loaded = ClusterNode.LoadAsync(db, CancellationToken.None).GetAwaiter().GetResult();
            var table = new JobTable(runsKept, maxJobs, time);
            foreach (var change in loaded.Changes) table.ApplyReplayed(change);
            var changeLog = new PgChangeLog(db, node, log);
            table.Attach(changeLog);
            log.LogInformation("Cluster: node {Node} joined {Database}: {Jobs} jobs loaded", node, DatabaseUrl.Redacted(url), table.Count);
            return new ClusterStore(db, changeLog, table, loaded.Seq);
        }
        catch (Exception e) when (IsDatabaseError(e))
        {
            db.Dispose();
            throw new StartupException($"DATABASE_URL: cannot use the database ({e.Message})");
        }
    }

    public void Dispose()
    {
        Log.Dispose();
        Database.Dispose();
    }
}
