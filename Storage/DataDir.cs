using Ksana.Scheduling;

namespace Ksana.Storage;

/// <summary>
/// The data directory, opened: its lock taken, its journal replayed into a <see cref="JobTable"/>,
/// and the journal open for appends (SPEC §6). The start-up compaction is asked for once the server
/// listens, so it does not delay the first request. Disposing it writes out what is queued and lets
/// go of the lock.
/// </summary>
public sealed class DataDir : IDisposable
{
    readonly DataDirLock _lock;

    public Journal Journal { get; }
    public JobTable Table { get; }

    DataDir(DataDirLock dirLock, Journal journal, JobTable table)
    {
        _lock = dirLock;
        Journal = journal;
        Table = table;
    }

    /// <summary>
    /// A guess at the jobs a journal holds, from its size: a job's line is about 500 bytes. Run lines
    /// make it guess high (bounded by the file: a few bytes per line of the journal, given back after replay).
    /// </summary>
    static int ExpectedJobs(string journal)
    {
        var info = new FileInfo(journal);
        return info.Exists ? (int)Math.Min(info.Length / 512, int.MaxValue) : 0;
    }

    public static DataDir Open(string path, int runsKept, int maxJobs, ILogger log, long compactionSlackBytes = 8 << 20, TimeProvider? time = null)
    {
        try
        {
            OwnerOnly.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"DATA_DIR={path}: cannot create the directory ({e.Message})");
        }
        var dirLock = DataDirLock.Acquire(path);
        try
        {
            // A compaction that a crash interrupted left only its temporary file; the journal is intact.
            File.Delete(Path.Combine(path, Journal.CompactFileName));
            var table = new JobTable(runsKept, maxJobs, time, ExpectedJobs(Path.Combine(path, Journal.FileName)));
            var replay = JournalReader.Replay(path, table.ApplyReplayed, log);
            table.ReplayDone();
            var journal = new Journal(path, replay.LastSeq, log, compactionSlackBytes);
            table.Attach(journal);
            log.LogInformation("Journal replayed: {Lines} lines, {Jobs} jobs", replay.Lines, table.Count);
            return new DataDir(dirLock, journal, table);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            dirLock.Dispose();
            throw new StartupException($"DATA_DIR={path}: {e.Message}");
        }
        catch
        {
            dirLock.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Journal.Dispose();
        _lock.Dispose();
    }
}
