using System.Collections.Concurrent;
using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// A job with its most recent runs, newest first, and its outbox: the events for EVENTS_URL not yet
/// delivered, oldest first. Immutable: replaced whole on every change.
/// </summary>
public sealed record JobEntry(Job Job, Run[] Runs)
{
    public Event[] Outbox { get; init; } = [];

    /// <summary>
    /// The state clients see. A once job whose one run is still in flight is not yet completed
    /// (SPEC §2: "a once job whose run ended"), so it shows as scheduled until that run ends.
    /// </summary>
    public JobState State =>
        Job.State == JobState.Completed && Runs is [{ IsFinished: false, Trigger: RunTrigger.Schedule }, ..]
            ? JobState.Scheduled
            : Job.State;
}

/// <summary>Which jobs <see cref="JobTable.List"/> returns.</summary>
public readonly record struct JobQuery(int Limit, (long Ticks, Guid Id)? After, JobState? State, string? Name);

/// <summary>
/// The one owner of the job table, in memory, with no I/O. Every change happens under its lock and
/// is handed to the <see cref="ChangeLog"/> in the same critical section, so memory and log agree
/// on order; the caller gets the task that says when the change is durable. A change the log loses
/// is undone here, so an answer other than 2xx never leaves a trace. Readers get immutable
/// snapshots without the lock: the scheduler's lookups never queue behind a writer.
/// </summary>
public sealed class JobTable
{
    readonly Lock _lock = new();
    readonly ConcurrentDictionary<Guid, JobEntry> _jobs = new();
    readonly List<(long Ticks, Guid Id)> _order = []; // by created_at, then id: the listing order
    readonly List<(long Number, Guid Id, JobEntry? Previous)> _undo = [];
    int _undoHead;
    long _lastNumber;
    ChangeLog? _log;

    public JobTable(int runsKept, int maxJobs)
    {
        RunsKept = runsKept;
        MaxJobs = maxJobs;
    }

    public int RunsKept { get; }
    public int MaxJobs { get; }

    /// <summary>Most events one job's outbox holds; past it the oldest is dropped (and counted).</summary>
    public const int OutboxMax = 1000;

    /// <summary>Events dropped from full outboxes since start.</summary>
    public long EventsDropped { get; private set; }

    /// <summary>Raised under the lock whenever a job is created, changed, undone or deleted (not before <see cref="Attach"/>).</summary>
    public Action<Guid>? Changed { get; set; }

    /// <summary>Raised under the lock when events are queued in a job's outbox.</summary>
    public Action<Guid>? EventsQueued { get; set; }

    public int Count
    {
        get { lock (_lock) return _order.Count; }
    }

    ChangeLog Log => _log ?? throw new InvalidOperationException("The table has no change log yet.");

    /// <summary>Applies one replayed change. Only before <see cref="Attach"/>, on one thread.</summary>
    public void ApplyReplayed(Change change)
    {
        switch (change.Kind)
        {
            case ChangeKind.JobWritten:
                var job = change.Job! with { Version = ++_lastNumber };
                Set(job.Id, new JobEntry(job, _jobs.TryGetValue(job.Id, out var old) ? old.Runs : []));
                break;
            case ChangeKind.RunWritten:
                if (_jobs.TryGetValue(change.Run!.JobId, out var entry))
                    _jobs[entry.Job.Id] = entry with { Runs = Upsert(entry.Runs, change.Run, RunsKept) };
                break;
            case ChangeKind.EventQueued:
                if (_jobs.TryGetValue(change.Event!.JobId, out var queuing))
                    _jobs[queuing.Job.Id] = queuing with { Outbox = [.. queuing.Outbox, change.Event] };
                break;
            case ChangeKind.EventDelivered:
                if (_jobs.TryGetValue(change.Target, out var delivering))
                    _jobs[delivering.Job.Id] = Without(delivering, change.EventId);
                break;
            default:
                Set(change.Target, null);
                break;
        }
    }

    /// <summary>Connects the replayed state to the log that will carry every later change.</summary>
    public void Attach(ChangeLog log)
    {
        _log = log;
        log.Attach(_lock, Undo, Snapshot);
    }

    public JobEntry? Get(Guid id) => _jobs.GetValueOrDefault(id);

    /// <summary>Every entry, in listing order (start-up recovery and tests).</summary>
    public JobEntry[] All()
    {
        lock (_lock) return Ordered();
    }

    JobEntry[] Ordered()
    {
        var all = new JobEntry[_order.Count];
        for (var i = 0; i < all.Length; i++) all[i] = _jobs[_order[i].Id];
        return all;
    }

    /// <summary>One page in listing order, and whether another page follows.</summary>
    public (List<JobEntry> Page, bool More) List(JobQuery query)
    {
        var page = new List<JobEntry>(Math.Min(query.Limit, 1000));
        lock (_lock)
        {
            var i = 0;
            if (query.After is { } after)
            {
                i = _order.BinarySearch(after, OrderComparer.Instance);
                i = i < 0 ? ~i : i + 1;
            }
            for (; i < _order.Count; i++)
            {
                var entry = _jobs[_order[i].Id];
                if (query.State is { } state && entry.State != state) continue;
                if (query.Name is { } name && entry.Job.Spec.Name != name) continue;
                if (page.Count == query.Limit) return (page, true);
                page.Add(entry);
            }
        }
        return (page, false);
    }

    /// <summary>Adds a new job; null at MAX_JOBS. Throws <see cref="ChangeLogUnavailableException"/>.</summary>
    public (Job Job, Task Durable)? Create(Job job)
    {
        lock (_lock)
        {
            if (_order.Count >= MaxJobs) return null;
            job = job with { Version = _lastNumber + 1 };
            var durable = Append(Change.Written(job), job.Id, null, urgent: true);
            Set(job.Id, new JobEntry(job, []));
            return (job, durable);
        }
    }

    /// <summary>
    /// Changes a job by a pure function of its current state, run under the lock. A null or unchanged
    /// result writes nothing. Returns null when the job does not exist.
    /// </summary>
    public (Job Job, Task Durable)? Update(Guid id, Func<Job, Job?> change)
    {
        lock (_lock)
        {
            if (!_jobs.TryGetValue(id, out var entry)) return null;
            var changed = change(entry.Job);
            if (changed is null || ReferenceEquals(changed, entry.Job)) return (entry.Job, Log.FlushAsync());
            changed = changed with { Version = _lastNumber + 1 };
            var durable = Append(Change.Written(changed), id, entry, urgent: true);
            Set(id, entry with { Job = changed });
            return (changed, durable);
        }
    }

    /// <summary>Deletes a job and its runs. Returns null when the job does not exist.</summary>
    public (Job Job, Task Durable)? Delete(Guid id)
    {
        lock (_lock)
        {
            if (!_jobs.TryGetValue(id, out var entry)) return null;
            var durable = Append(Change.Removed(id), id, entry, urgent: true);
            Set(id, null);
            return (entry.Job, durable);
        }
    }

    /// <summary>
    /// Writes a run (new or changed) into its job's history. A run of a job deleted meanwhile is
    /// dropped: its history went with the job. Run records are not urgent by default: they share a
    /// sync with thousands of others.
    /// </summary>
    public Task PutRun(Run run, bool urgent = false)
    {
        lock (_lock)
        {
            if (!_jobs.TryGetValue(run.JobId, out var entry)) return Task.CompletedTask;
            var durable = Append(Change.Recorded(run), run.JobId, entry, urgent);
            _jobs[run.JobId] = entry with { Runs = Upsert(entry.Runs, run, RunsKept) };
            return durable;
        }
    }

    /// <summary>
    /// Records how a run ended, with what follows from it, in one critical section: the events it
    /// causes first (so an event whose run is on disk is on disk too), then the job's new state
    /// (failure streak, pause), then the run. <paramref name="consequences"/> is given the job as
    /// it is now, under the lock.
    /// </summary>
    public Task FinishRun(Run run, Func<Job, (Job? Job, Event[] Events)> consequences)
    {
        lock (_lock)
        {
            if (!_jobs.TryGetValue(run.JobId, out var entry)) return Task.CompletedTask;
            var (job, events) = consequences(entry.Job);
            var next = entry;
            foreach (var e in events)
            {
                if (next.Outbox.Length >= OutboxMax)
                {
                    // A dead EVENTS_URL must not grow a job's outbox without bound: the oldest gives way.
                    var dropped = next.Outbox[0];
                    Append(Change.Delivered(run.JobId, dropped.Id), run.JobId, entry, urgent: false);
                    next = Without(next, dropped.Id);
                    EventsDropped++;
                }
                Append(Change.Queued(e), run.JobId, entry, urgent: false);
                next = next with { Outbox = [.. next.Outbox, e] };
            }
            if (job is not null)
            {
                job = job with { Version = _lastNumber + 1 };
                Append(Change.Written(job), run.JobId, entry, urgent: false);
                next = next with { Job = job };
            }
            var durable = Append(Change.Recorded(run), run.JobId, entry, urgent: false);
            next = next with { Runs = Upsert(next.Runs, run, RunsKept) };
            if (job is null) _jobs[run.JobId] = next;
            else Set(run.JobId, next);
            if (events.Length > 0) EventsQueued?.Invoke(run.JobId);
            return durable;
        }
    }

    /// <summary>Takes a delivered event out of its job's outbox. Not urgent: a crash before it is durable only sends the event again.</summary>
    public void Delivered(Guid jobId, Guid eventId)
    {
        lock (_lock)
        {
            if (!_jobs.TryGetValue(jobId, out var entry) || Array.FindIndex(entry.Outbox, e => e.Id == eventId) < 0) return;
            Append(Change.Delivered(jobId, eventId), jobId, entry, urgent: false);
            _jobs[jobId] = Without(entry, eventId);
        }
    }

    static JobEntry Without(JobEntry entry, Guid eventId) => entry with { Outbox = Array.FindAll(entry.Outbox, e => e.Id != eventId) };

    /// <summary>Every entry as it is now, without the lock (for scans: run queries, the outbox at start-up).</summary>
    public IEnumerable<JobEntry> Entries => _jobs.Values;

    Task Append(in Change change, Guid id, JobEntry? previous, bool urgent)
    {
        var number = _lastNumber + 1;
        var durable = Log.Append(change, number, urgent);
        _lastNumber = number;
        // Forget what is already durable: it can no longer be undone.
        var safe = Log.DurableNumber;
        while (_undoHead < _undo.Count && _undo[_undoHead].Number <= safe) _undoHead++;
        if (_undoHead > 1024 && _undoHead * 2 > _undo.Count)
        {
            _undo.RemoveRange(0, _undoHead);
            _undoHead = 0;
        }
        _undo.Add((number, id, previous));
        return durable;
    }

    /// <summary>
    /// Puts <paramref name="run"/> first (or in its old place, if already there). A job keeps its
    /// <paramref name="cap"/> most recent runs and, apart from them, its <paramref name="cap"/> most
    /// recent failed runs (SPEC §5), so a failure is not pushed out by the successes after it.
    /// </summary>
    public static Run[] Upsert(Run[] runs, Run run, int cap)
    {
        for (var i = 0; i < runs.Length; i++)
        {
            if (runs[i].RunId != run.RunId) continue;
            var copy = (Run[])runs.Clone();
            copy[i] = run;
            return copy;
        }
        var all = new Run[runs.Length + 1];
        all[0] = run;
        runs.CopyTo(all, 1);
        if (all.Length <= cap) return all;
        var kept = new List<Run>(all.Length);
        var olderFailed = 0;
        for (var i = 0; i < all.Length; i++)
        {
            if (i < cap) kept.Add(all[i]);
            else if (all[i].Status == RunStatus.Failed && olderFailed++ < cap) kept.Add(all[i]);
        }
        return kept.Count == all.Length ? all : kept.ToArray();
    }

    void Set(Guid id, JobEntry? entry)
    {
        var had = _jobs.TryGetValue(id, out var old);
        if (entry is null)
        {
            if (!had) return;
            _jobs.TryRemove(id, out _);
            var at = _order.BinarySearch((old!.Job.CreatedAt.UtcTicks, id), OrderComparer.Instance);
            if (at >= 0) _order.RemoveAt(at);
        }
        else
        {
            _jobs[id] = entry;
            if (!had)
            {
                var key = (entry.Job.CreatedAt.UtcTicks, id);
                var at = _order.BinarySearch(key, OrderComparer.Instance);
                _order.Insert(at < 0 ? ~at : at, key);
            }
        }
        if (_log is not null) Changed?.Invoke(id);
    }

    /// <summary>Called by the log, under the lock, when changes from <paramref name="firstLost"/> on did not become durable.</summary>
    void Undo(long firstLost)
    {
        for (var i = _undo.Count - 1; i >= _undoHead && _undo[i].Number >= firstLost; i--)
        {
            var (_, id, previous) = _undo[i];
            Set(id, previous);
            _undo.RemoveAt(i);
        }
        // Numbers are not reused: a version once seen by a writer must never name other content.
    }

    /// <summary>Called by the log under the lock: the live state as changes, oldest first.</summary>
    (int Count, IEnumerable<Change> Changes) Snapshot()
    {
        var entries = Ordered();
        var count = entries.Length;
        foreach (var entry in entries) count += entry.Runs.Length + entry.Outbox.Length;
        return (count, Changes(entries));
    }

    static IEnumerable<Change> Changes(JobEntry[] entries)
    {
        foreach (var entry in entries)
        {
            yield return Change.Written(entry.Job);
            for (var i = entry.Runs.Length - 1; i >= 0; i--) yield return Change.Recorded(entry.Runs[i]);
            foreach (var e in entry.Outbox) yield return Change.Queued(e);
        }
    }

    sealed class OrderComparer : IComparer<(long Ticks, Guid Id)>
    {
        public static readonly OrderComparer Instance = new();

        public int Compare((long Ticks, Guid Id) x, (long Ticks, Guid Id) y)
        {
            var c = x.Ticks.CompareTo(y.Ticks);
            return c != 0 ? c : x.Id.CompareTo(y.Id);
        }
    }
}
