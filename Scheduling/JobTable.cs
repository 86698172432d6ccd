using System.Diagnostics;
using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// The one owner of the job table, in memory, with no I/O. Every change happens under its lock and
/// is handed to the <see cref="ChangeLog"/> in the same critical section, so memory and log agree
/// on order; the caller gets the task that says when the change is durable. A change the log loses
/// is undone here, so an answer other than 2xx never leaves a trace. Readers get immutable
/// snapshots without the lock: the scheduler's lookups never queue behind a writer.
/// </summary>
public sealed partial class JobTable
{
    readonly Lock _lock = new();
    readonly JobIndex _jobs;
    readonly List<(long Ticks, Guid Id)> _order; // by created_at, then id: the listing order
    // Each change not yet durable, with the entry and the runs it found (runs are written in place).
    readonly List<(long Number, Guid Id, JobEntry? Previous, RunHistory PreviousRuns)> _undo = [];
    // Kept with every change under the lock, so a key's uniqueness is checked where it is written and
    // a scrape counts jobs by state without walking up to MAX_JOBS entries.
    readonly Dictionary<string, Guid> _byKey = new(StringComparer.Ordinal);
    readonly long[] _stateCounts = new long[4];
    readonly HashSet<Guid> _mayNeedRepair = []; // filled by replay, taken by start-up's repairs
    int _undoHead;
    long _lastNumber;
    ChangeLog? _log;

    /// <param name="expectedJobs">
    /// How many jobs replay will likely bring (an estimate): the table is made that large at once,
    /// rather than growing by doubling and copying its entries each time, which at 100 000 jobs was
    /// garbage the size of the table itself.
    /// </param>
    public JobTable(int runsKept, int maxJobs, TimeProvider? time = null, int expectedJobs = 0)
    {
        RunsKept = runsKept;
        MaxJobs = maxJobs;
        expectedJobs = Math.Clamp(expectedJobs, 0, maxJobs);
        _jobs = new JobIndex(expectedJobs);
        _order = new List<(long Ticks, Guid Id)>(expectedJobs);
        Answers = new RememberedAnswers(time ?? TimeProvider.System);
    }

    /// <summary>The answers remembered for Idempotency-Key (SPEC §4): written through this table's log, in its snapshots.</summary>
    public RememberedAnswers Answers { get; }

    public int RunsKept { get; }
    public int MaxJobs { get; }

    /// <summary>Told, under the lock, when a run record reaches a final status (metrics); nobody by default.</summary>
    public RunObserver Observer { get; set; } = RunObserver.None;

    /// <summary>Raised under the lock whenever a job is created, changed, undone or deleted (not before <see cref="Attach"/>).</summary>
    public Action<Guid>? Changed { get; set; }

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
                // A replayed job's version is its line's sequence number (LineDecoder); a job without one gets the next.
                var job = change.Job!.Version > _lastNumber ? change.Job : change.Job with { Version = _lastNumber + 1 };
                _lastNumber = job.Version;
                if (job.Spec.Schedule.FiresOnce || job.Spec.Schedule.Options.CatchUp is not null) _mayNeedRepair.Add(job.Id);
                // Most job lines are a job's first (a snapshot holds each job once): one lookup, not two.
                var fresh = new JobEntry(job, []);
                if (_jobs.TryAdd(fresh)) Added(job.Id, fresh);
                else
                {
                    var old = _jobs.Get(job.Id)!;
                    Set(job.Id, old with { Job = job }, true, old);
                }
                break;
            case ChangeKind.AnswerRemembered:
                Answers.Add(change.Answer!, 0);
                break;
            case ChangeKind.RunWritten:
                if (_jobs.Get(change.Run!.JobId) is { } entry)
                {
                    WriteRuns(entry, RunHistory.Upsert(entry.Runs, change.Run, RunsKept, RunHistory.Overwrite.Replay));
                    if (!change.Run.IsFinished) _mayNeedRepair.Add(change.Run.JobId);
                }
                break;
            case ChangeKind.EventQueued:
                if (_jobs.Get(change.Event!.JobId) is { } queuing)
                    _jobs.Set(queuing with { Outbox = [.. queuing.Outbox, change.Event] });
                break;
            case ChangeKind.EventDelivered:
                if (_jobs.Get(change.Target) is { } delivering)
                    _jobs.Set(Without(delivering, change.EventId));
                break;
            default:
                Set(change.Target, null);
                break;
        }
    }

    /// <summary>After replay: the listing order gives back what the guess of the table's size overshot.</summary>
    public void ReplayDone()
    {
        _order.TrimExcess();
        _jobs.TrimExcess();
    }

    /// <summary>
    /// The jobs start-up may have to repair (<see cref="Jobs.RecoverAsync"/>), in listing order, and
    /// forgets them: those replay saw with a run in flight, a schedule that fires once, or a catch_up.
    /// No other job can need a repair, so start-up does not walk every job to find them.
    /// </summary>
    public JobEntry[] TakeRepairCandidates()
    {
        lock (_lock)
        {
            var found = new List<JobEntry>(_mayNeedRepair.Count);
            foreach (var id in _mayNeedRepair)
                if (_jobs.Get(id) is { } entry) found.Add(entry);
            _mayNeedRepair.Clear();
            _mayNeedRepair.TrimExcess();
            found.Sort((a, b) => OrderComparer.Instance.Compare((a.Job.CreatedAt.UtcTicks, a.Job.Id), (b.Job.CreatedAt.UtcTicks, b.Job.Id)));
            return [.. found];
        }
    }

    /// <summary>Connects the replayed state to the log that will carry every later change.</summary>
    public void Attach(ChangeLog log)
    {
        _log = log;
        log.Attach(_lock, Undo, Snapshot);
    }

    public JobEntry? Get(Guid id) => _jobs.Get(id);

    /// <summary>The job whose client key is <paramref name="key"/>, if any (SPEC §2: keys are unique among jobs).</summary>
    public JobEntry? GetByKey(string key)
    {
        lock (_lock) return _byKey.TryGetValue(key, out var id) ? _jobs.Get(id) : null;
    }

    /// <summary>
    /// The id of the job that holds <paramref name="key"/>, or null. Also callable from inside an
    /// <see cref="Update"/> change (the lock is re-entrant), where the answer cannot go stale.
    /// </summary>
    public Guid? KeyOwner(string key)
    {
        lock (_lock) return _byKey.TryGetValue(key, out var id) ? id : null;
    }

    /// <summary>How many jobs are in each state, as clients see it (<see cref="JobEntry.State"/>), indexed by <see cref="JobState"/>.</summary>
    public long[] CountByState()
    {
        lock (_lock) return (long[])_stateCounts.Clone();
    }

    /// <summary>Every entry, in listing order (start-up recovery and tests).</summary>
    public JobEntry[] All()
    {
        lock (_lock) return Ordered();
    }

    JobEntry[] Ordered()
    {
        var all = new JobEntry[_order.Count];
        for (var i = 0; i < all.Length; i++) all[i] = _jobs.Get(_order[i].Id)!;
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
                var entry = _jobs.Get(_order[i].Id)!;
                if (query.State is { } state && entry.State != state) continue;
                if (query.Name is { } name && entry.Job.Spec.Name != name) continue;
                if (page.Count == query.Limit) return (page, true);
                page.Add(entry);
            }
        }
        return (page, false);
    }

    /// <summary>Adds a new job; null at MAX_JOBS. Throws <see cref="ChangeLogUnavailableException"/>.</summary>
    public (Job Job, Task Durable)? Create(Job job) => Create(job, out _);

    /// <summary>
    /// Adds a new job; null at MAX_JOBS, or when another job holds its key: then
    /// <paramref name="keyOwner"/> names that job. Throws <see cref="ChangeLogUnavailableException"/>.
    /// </summary>
    public (Job Job, Task Durable)? Create(Job job, out Guid keyOwner)
    {
        lock (_lock)
        {
            keyOwner = job.Spec.Key is { } key && _byKey.TryGetValue(key, out var owner) ? owner : Guid.Empty;
            if (keyOwner != Guid.Empty) return null;
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
            if (_jobs.Get(id) is not { } entry) return null;
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
            if (_jobs.Get(id) is not { } entry) return null;
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
            if (_jobs.Get(run.JobId) is not { } entry) return Task.CompletedTask;
            var durable = Append(Change.Recorded(run), run.JobId, entry, urgent);
            var ends = run.IsFinished && !RunHistory.EndedBefore(entry.Runs, run.RunId);
            WriteRuns(entry, RunHistory.Upsert(entry.Runs, run, RunsKept, Overwrite));
            if (ends) Observer.RunFinished(run.Status, run.FinishedAt ?? default);
            return durable;
        }
    }

    /// <summary>
    /// Writes a remembered answer to the log and keeps it; the task says when it is durable (only then
    /// may the answer be sent). Throws <see cref="ChangeLogUnavailableException"/>.
    /// </summary>
    public Task Remember(RememberedAnswer answer)
    {
        lock (_lock)
        {
            var durable = Append(Change.Remembered(answer), Guid.Empty, null, urgent: true);
            Answers.Add(answer, _lastNumber);
            return durable;
        }
    }

    /// <summary>Completes once every change made so far is durable (at once when nothing waits to be written).</summary>
    public Task FlushAsync() => Log.FlushAsync();

    /// <summary>
    /// Every entry, in no order, each as the walk passes it, without the lock or a copy (for scans:
    /// run queries, the outbox, the scheduler's first plan, which hears of later changes anyway).
    /// </summary>
    public IEnumerable<JobEntry> Entries => _jobs.Entries;

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
        _undo.Add((number, id, previous, previous?.Runs ?? default));
        return durable;
    }

    /// <summary>
    /// What the change just appended may write over in a run history (see <see cref="RunHistory"/>):
    /// nothing an undo could go back to, nor what a compaction in progress is writing out.
    /// </summary>
    RunHistory.Overwrite Overwrite => new(_lastNumber, Log.DurableNumber, Log.PinnedNumber);

    /// <summary>Replaces a job's entry with a new one of the same job (its outbox changed; runs alone are written in place, see WriteRuns).</summary>
    void Replace(JobEntry old, JobEntry entry)
    {
        _jobs.Set(entry);
        Counted(old, entry);
    }

    /// <summary>Writes a job's runs into its entry, in place, and keeps the state counts (a once job's state depends on its newest run).</summary>
    void WriteRuns(JobEntry entry, in RunHistory runs)
    {
        _stateCounts[(int)entry.State]--;
        entry.WriteRuns(runs);
        _stateCounts[(int)entry.State]++;
    }

    /// <summary>Moves a job between the per-state counts; either side may be null (created, deleted).</summary>
    void Counted(JobEntry? old, JobEntry? entry)
    {
        if (old is not null) _stateCounts[(int)old.State]--;
        if (entry is not null) _stateCounts[(int)entry.State]++;
    }

    void Set(Guid id, JobEntry? entry)
    {
        var old = _jobs.Get(id);
        Set(id, entry, old is not null, old);
    }

    /// <summary><see cref="Set(Guid, JobEntry?)"/> with the entry it replaces already looked up (replay: one lookup a line, not two).</summary>
    void Set(Guid id, JobEntry? entry, bool had, JobEntry? old)
    {
        Debug.Assert(entry is null || entry.Job.Id == id, "an entry is indexed by its own job's id");
        if (entry is null)
        {
            if (!had) return;
            _jobs.Remove(id);
            var at = _order.BinarySearch((old!.Job.CreatedAt.UtcTicks, id), OrderComparer.Instance);
            if (at >= 0) _order.RemoveAt(at);
            Indexed(id, old, null);
        }
        else if (!had)
        {
            _jobs.Set(entry);
            Added(id, entry);
            return;
        }
        else
        {
            _jobs.Set(entry);
            Indexed(id, old, entry);
        }
        if (_log is not null) Changed?.Invoke(id);
    }

    /// <summary>Puts a job just added to <see cref="_jobs"/> in the listing order and the indexes.</summary>
    void Added(Guid id, JobEntry entry)
    {
        var key = (entry.Job.CreatedAt.UtcTicks, id);
        // Replay and creates add jobs in created_at order, nearly always: then it goes last.
        if (_order.Count == 0 || OrderComparer.Instance.Compare(_order[^1], key) < 0) _order.Add(key);
        else
        {
            var at = _order.BinarySearch(key, OrderComparer.Instance);
            _order.Insert(at < 0 ? ~at : at, key);
        }
        Indexed(id, null, entry);
        if (_log is not null) Changed?.Invoke(id);
    }

    /// <summary>Keeps the key index and the state counts in step with one job's entry.</summary>
    void Indexed(Guid id, JobEntry? old, JobEntry? entry)
    {
        Counted(old, entry);
        var oldKey = old?.Job.Spec.Key;
        var newKey = entry?.Job.Spec.Key;
        if (oldKey == newKey) return;
        if (oldKey is not null && _byKey.TryGetValue(oldKey, out var owner) && owner == id) _byKey.Remove(oldKey);
        if (newKey is not null) _byKey[newKey] = id;
    }

    /// <summary>Called by the log, under the lock, when changes from <paramref name="firstLost"/> on did not become durable.</summary>
    void Undo(long firstLost)
    {
        for (var i = _undo.Count - 1; i >= _undoHead && _undo[i].Number >= firstLost; i--)
        {
            var (_, id, previous, runs) = _undo[i];
            if (previous is not null && ReferenceEquals(_jobs.Get(id), previous))
            {
                // The same entry: only its runs changed since.
                WriteRuns(previous, runs);
                Changed?.Invoke(id);
            }
            // An entry no longer current got no write since it was replaced: it holds the runs it had then.
            else Set(id, previous);
            _undo.RemoveAt(i);
        }
        Answers.Undo(firstLost);
        // Numbers are not reused: a version once seen by a writer must never name other content.
    }

    /// <summary>Called by the log under the lock: the live state as changes, oldest first.</summary>
    (int Count, IEnumerable<Change> Changes) Snapshot()
    {
        var entries = Ordered();
        // The runs as they are now: an entry's runs are written in place, and the snapshot is written out later, on the log's thread.
        var runs = new RunHistory[entries.Length];
        var answers = Answers.Live();
        var count = entries.Length + answers.Length;
        for (var i = 0; i < entries.Length; i++)
        {
            runs[i] = entries[i].Runs;
            count += runs[i].Length + entries[i].Outbox.Length;
        }
        return (count, Changes(entries, runs, answers));
    }

    static IEnumerable<Change> Changes(JobEntry[] entries, RunHistory[] runs, RememberedAnswer[] answers)
    {
        for (var j = 0; j < entries.Length; j++)
        {
            var entry = entries[j];
            yield return Change.Written(entry.Job);
            for (var i = runs[j].Length - 1; i >= 0; i--) yield return Change.Kept(runs[j], i);
            foreach (var e in entry.Outbox) yield return Change.Queued(e);
        }
        foreach (var answer in answers) yield return Change.Remembered(answer);
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
