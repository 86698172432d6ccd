namespace Ksana.Scheduling;

public enum ChangeKind { JobWritten, JobDeleted, RunWritten, EventQueued, EventDelivered, AnswerRemembered }

/// <summary>
/// One change of state, as the change log carries it: a job written whole or deleted, a run written
/// whole, an event queued for EVENTS_URL or delivered, or the answer to a request with an
/// Idempotency-Key remembered. <see cref="Target"/> names the job a delete or a delivery is about;
/// <see cref="EventId"/> the event delivered.
/// </summary>
public readonly record struct Change(ChangeKind Kind, Job? Job, Guid Target, Run? Run, Event? Event = null, Guid EventId = default,
    RememberedAnswer? Answer = null, RunHistory Runs = default, int RunIndex = 0)
{
    /// <summary>
    /// Run <paramref name="index"/> of <paramref name="runs"/>, written by the history itself
    /// (<see cref="RunHistory.WriteRecord"/>): a compaction's snapshot, which makes no <see cref="Run"/> of each.
    /// </summary>
    public static Change Kept(RunHistory runs, int index) => new(ChangeKind.RunWritten, null, runs.JobId, null, Runs: runs, RunIndex: index);

    public static Change Written(Job job) => new(ChangeKind.JobWritten, job, Guid.Empty, null);
    public static Change Removed(Guid jobId) => new(ChangeKind.JobDeleted, null, jobId, null);
    public static Change Recorded(Run run) => new(ChangeKind.RunWritten, null, Guid.Empty, run);
    public static Change Queued(Event e) => new(ChangeKind.EventQueued, null, Guid.Empty, null, e);
    public static Change Delivered(Guid jobId, Guid eventId) => new(ChangeKind.EventDelivered, null, jobId, null, null, eventId);
    public static Change Remembered(RememberedAnswer answer) => new(ChangeKind.AnswerRemembered, null, Guid.Empty, null, Answer: answer);

    public Guid JobId => Kind switch
    {
        ChangeKind.JobWritten => Job!.Id,
        ChangeKind.RunWritten => Run?.JobId ?? Target,
        ChangeKind.EventQueued => Event!.JobId,
        ChangeKind.AnswerRemembered => Guid.Empty,
        _ => Target,
    };
}

/// <summary>
/// The storage port: takes changes in the order the <see cref="JobTable"/> makes them and says when
/// each is durable. The journal in DATA_DIR is one implementation; a second backend plugs in here
/// without touching the scheduler or the API.
/// </summary>
public abstract class ChangeLog : IDisposable
{
    /// <summary>
    /// Connects the log to the table that owns the state. <paramref name="tableLock"/> is held by
    /// every caller of <see cref="Append"/> and must be taken by the log before it calls
    /// <paramref name="lost"/> (with the number of the first change that did not become durable:
    /// it and every later change are undone) or <paramref name="snapshot"/> (the live state, for
    /// compaction).
    /// </summary>
    public abstract void Attach(Lock tableLock, Action<long> lost, Func<(int Count, IEnumerable<Change> Changes)> snapshot);

    /// <summary>
    /// Queues a change, under the table's lock, and returns a task that completes when it is durable
    /// or fails with <see cref="ChangeLogUnavailableException"/>. A change nobody waits for (a run
    /// record) is not <paramref name="urgent"/>: it may wait a few milliseconds to share a sync.
    /// Throws <see cref="ChangeLogUnavailableException"/> when the log takes no writes at all.
    /// </summary>
    public abstract Task Append(in Change change, long number, bool urgent);

    /// <summary>The number of the last change known to be durable.</summary>
    public abstract long DurableNumber { get; }

    /// <summary>
    /// While a compaction writes out a snapshot of the table, the number of the last change that
    /// snapshot holds: what the table showed then must not be written over in place until it is
    /// written. <see cref="long.MaxValue"/> when no snapshot is being written.
    /// </summary>
    public virtual long PinnedNumber => long.MaxValue;

    /// <summary>A task that completes when every change appended so far is durable.</summary>
    public abstract Task FlushAsync();

    /// <summary>Told about syncs, failed writes and compactions (metrics); nobody by default.</summary>
    public ChangeLogObserver Observer { get; set; } = ChangeLogObserver.None;

    public abstract void Dispose();
}

/// <summary>The change log cannot take writes now (disk full, read-only, I/O error): nothing was changed.</summary>
public sealed class ChangeLogUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// What a change log reports about its own work (the journal series of SPEC §11). Does nothing
/// unless overridden; called on the log's writer thread, so an override must be quick and never wait.
/// </summary>
public class ChangeLogObserver
{
    public static readonly ChangeLogObserver None = new();

    /// <summary>A batch was written and made durable; <paramref name="duration"/> is the sync alone.</summary>
    public virtual void Synced(TimeSpan duration) { }

    /// <summary>A write or a sync failed: the changes of that batch were undone.</summary>
    public virtual void WriteFailed() { }

    /// <summary>The log was compacted to its live state.</summary>
    public virtual void Compacted() { }
}
