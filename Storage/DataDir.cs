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
    /// A guess at the jobs a journal of <paramref name="length"/> bytes holds: a job's line is about
    /// 400 bytes or more. Guessing low costs regrowths of the listing and the index during replay
    /// (copies of references; with the dictionary the index once was, about 18 ms of the applying
    /// thread at 100 000 jobs with the old guess of 512 bytes a line). Run lines make it guess high,
    /// which costs little: a few bytes per line of the journal until replay ends, when the listing and
    /// the index give their spare room back.
    /// </summary>
    static int ExpectedJobs(long length) => (int)Math.Min(length / 384, int.MaxValue);

    /// <summary>
    /// What replay may allocate without a collection: three times the journal's size (a job's
    /// objects take a little more than its line, and decoding leaves some garbage), at most a
    /// quarter of the memory the process may use, and only for a journal worth the trouble.
    /// </summary>
    static long ReplayBudget(long length) =>
        length < 4 << 20 ? 0 : Math.Min(length * 3, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);

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
            var file = new FileInfo(Path.Combine(path, Journal.FileName));
            var length = file.Exists ? file.Length : 0;
            var table = new JobTable(runsKept, maxJobs, time, ExpectedJobs(length));
            JournalReader.Result replay;
            using (NoCollection.For(ReplayBudget(length)))
                replay = JournalReader.Replay(path, table.ApplyReplayed, log);
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
