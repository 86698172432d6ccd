using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// A job with its most recent runs, newest first, and its outbox: the events for EVENTS_URL not yet
/// delivered, oldest first. The job and the outbox are immutable, and a change of either replaces
/// the entry. The runs are written in place, under the table's lock (<see cref="WriteRuns"/>): a
/// run's two records used to make two entries, each alive until the job's next run, so a collection
/// of the young generation copied them and promoted them to die old.
/// </summary>
public sealed record JobEntry
{
    RunHistory _runs;
    // How many times _runs was written, twice per write: odd while a write is under way.
    int _writes;

    public JobEntry(Job job, RunHistory runs)
    {
        Job = job;
        _runs = runs;
    }

    public Job Job { get; init; }

    public Event[] Outbox { get; init; } = [];

    /// <summary>
    /// The runs as they are now. A reader without the table's lock gets one whole history: the
    /// history is a struct too large to be read or written in one step, so a read that overlapped a
    /// write is made again (a sequence lock; a write takes a few nanoseconds).
    /// </summary>
    public RunHistory Runs
    {
        get
        {
            var spinner = new SpinWait();
            while (true)
            {
                var before = Volatile.Read(ref _writes);
                var runs = _runs;
                // The copy is read before the count is read again, on every processor.
                Interlocked.MemoryBarrier();
                if ((before & 1) == 0 && Volatile.Read(ref _writes) == before) return runs;
                spinner.SpinOnce();
            }
        }
        init => _runs = value;
    }

    /// <summary>
    /// <paramref name="read"/> over the job's runs, read again from the newer history should the job
    /// write over a row it read meanwhile (<see cref="RunHistory.Intact"/>): for readers that copy
    /// many rows, or may be preempted while they do, such as an API answer.
    /// </summary>
    public T ReadRuns<T>(Func<RunHistory, T> read)
    {
        while (true)
        {
            var runs = Runs;
            var result = read(runs);
            if (runs.Intact) return result;
        }
    }

    /// <summary>Replaces the runs in place. Only under the table's lock (or on the one replay thread), so writes never overlap.</summary>
    internal void WriteRuns(in RunHistory runs)
    {
        // Full fences: the odd count is seen before any part of the new history, and all of it before the even one.
        Interlocked.Increment(ref _writes);
        _runs = runs;
        Interlocked.Increment(ref _writes);
    }

    /// <summary>
    /// The state clients see. A once job whose one run is still in flight is not yet completed
    /// (SPEC §2: "a once job whose run ended"), so it shows as scheduled until that run ends.
    /// </summary>
    public JobState State =>
        Job.State == JobState.Completed && Runs.NewestIsUnfinishedSchedule
            ? JobState.Scheduled
            : Job.State;
}

/// <summary>Which jobs <see cref="JobTable.List"/> returns.</summary>
public readonly record struct JobQuery(int Limit, (long Ticks, Guid Id)? After, JobState? State, string? Name);
