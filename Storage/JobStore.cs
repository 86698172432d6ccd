using System.Collections.Concurrent;
using Ksana.Scheduling;

namespace Ksana.Storage;

/// <summary>A job with its most recent runs, newest first. Immutable: replaced whole on every change.</summary>
public sealed record JobEntry(Job Job, Run[] Runs)
{
    /// <summary>
    /// The state clients see. A once job whose one run is still in flight is not yet completed
    /// (SPEC §2: "a once job whose run ended"), so it shows as scheduled until that run ends.
    /// </summary>
    public JobState State =>
        Job.State == JobState.Completed && Runs is [{ IsFinished: false, Trigger: RunTrigger.Schedule }, ..]
            ? JobState.Scheduled
            : Job.State;
}

/// <summary>Which jobs <see cref="JobStore.List"/> returns.</summary>
public readonly record struct JobQuery(int Limit, (long Ticks, Guid Id)? After, JobState? State, string? Name);

/// <summary>
/// The one owner of the job table. Every change happens under the journal's gate, is appended to the
/// journal in the same critical section (so memory and file agree on order), and returns the task of
/// the batch that makes it durable. A change whose batch fails to reach disk is undone here, so an
/// answer other than 2xx never leaves a trace. Readers get immutable snapshots.
/// </summary>
public sealed class JobStore
{
    // Written only under the gate, read without it: entries are immutable, so a reader sees one
    // whole version or the next, and the scheduler's lookups never queue behind a writer.
    readonly ConcurrentDictionary<Guid, JobEntry> _jobs = new();
    readonly List<(long Ticks, Guid Id)> _order = []; // by created_at, then id: the listing order
    readonly List<(long Seq, Guid Id, JobEntry? Previous)> _undo = [];
    int _undoHead;
    Journal? _journal;

    public int RunsKept { get; }
    public int MaxJobs { get; }

    /// <summary>Raised under the gate whenever a job is created, changed, undone or deleted.</summary>
    public Action<Guid>? Changed { get; set; }

    public JobStore(int runsKept, int maxJobs)
    {
        RunsKept = runsKept;
        MaxJobs = maxJobs;
    }

    Lock Gate => _journal?.Gate ?? throw new InvalidOperationException("The store has no journal yet.");

    public int Count
    {
        get { lock (Gate) return _order.Count; }
    }

    /// <summary>Applies one replayed journal line. Only before <see cref="Attach"/>, on one thread.</summary>
    public void ApplyReplayed(Decoded line)
    {
        if (line.Job is { } job)
            Set(job.Id, new JobEntry(job, _jobs.TryGetValue(job.Id, out var old) ? old.Runs : []));
        else if (line.Run is { } run)
        {
            if (_jobs.TryGetValue(run.JobId, out var entry))
                _jobs[run.JobId] = entry with { Runs = Upsert(entry.Runs, run, RunsKept) };
        }
        else
            Set(line.Deleted, null);
    }

    /// <summary>Connects the replayed state to the journal that will carry every later change.</summary>
    public void Attach(Journal journal)
    {
        _journal = journal;
        journal.Lost = Undo;
        journal.SnapshotSource = Snapshot;
    }

    public JobEntry? Get(Guid id) => _jobs.GetValueOrDefault(id);

    /// <summary>Every entry, in listing order (start-up recovery and tests).</summary>
    public JobEntry[] All()
    {
        lock (Gate)
        {
            var all = new JobEntry[_order.Count];
            for (var i = 0; i < all.Length; i++) all[i] = _jobs[_order[i].Id];
            return all;
        }
    }

    /// <summary>One page in listing order, and whether another page follows.</summary>
    public (List<JobEntry> Page, bool More) List(JobQuery query)
    {
        var page = new List<JobEntry>(Math.Min(query.Limit, 1000));
        lock (Gate)
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

    /// <summary>Adds a new job. Throws <see cref="JobLimitException"/> at MAX_JOBS.</summary>
    public (Job Job, Task Durable) Create(Job job)
    {
        lock (Gate)
        {
            if (_order.Count >= MaxJobs) throw new JobLimitException(MaxJobs);
            job = job with { Seq = _journal!.NextSeq };
            var durable = _journal.Append(new JournalLine { Seq = job.Seq, Op = "job", Job = RecordMapping.ToRecord(job) });
            Record(job.Id, null);
            Set(job.Id, new JobEntry(job, []));
            return (job, durable);
        }
    }

    /// <summary>
    /// Changes a job by a pure function of its current state, run under the gate. A null or unchanged
    /// result writes nothing. Returns null when the job does not exist.
    /// </summary>
    public (Job Job, Task Durable)? Update(Guid id, Func<Job, Job?> change)
    {
        lock (Gate)
        {
            if (!_jobs.TryGetValue(id, out var entry)) return null;
            var changed = change(entry.Job);
            if (changed is null || ReferenceEquals(changed, entry.Job)) return (entry.Job, _journal!.FlushAsync());
            changed = changed with { Seq = _journal!.NextSeq };
            var durable = _journal.Append(new JournalLine { Seq = changed.Seq, Op = "job", Job = RecordMapping.ToRecord(changed) });
            Record(id, entry);
            Set(id, entry with { Job = changed });
            return (changed, durable);
        }
    }

    /// <summary>Deletes a job and its runs. Returns null when the job does not exist.</summary>
    public Task? Delete(Guid id)
    {
        lock (Gate)
        {
            if (!_jobs.TryGetValue(id, out var entry)) return null;
            var durable = _journal!.Append(new JournalLine { Seq = _journal.NextSeq, Op = "del", Id = id.ToString() });
            Record(id, entry);
            Set(id, null);
            return durable;
        }
    }

    /// <summary>
    /// Writes a run (new or changed) into its job's history. A run of a job deleted meanwhile is
    /// dropped: its history went with the job. Run records are not urgent by default: they reach
    /// disk within <see cref="Journal.LazyFlush"/>, sharing a sync with thousands of others.
    /// </summary>
    public Task PutRun(Run run, bool urgent = false)
    {
        lock (Gate)
        {
            if (!_jobs.TryGetValue(run.JobId, out var entry)) return Task.CompletedTask;
            run = run with { Seq = _journal!.NextSeq };
            var durable = _journal.Append(new JournalLine { Seq = run.Seq, Op = "run", RunRecord = run }, urgent);
            Record(run.JobId, entry);
            _jobs[run.JobId] = entry with { Runs = Upsert(entry.Runs, run, RunsKept) };
            return durable;
        }
    }

    /// <summary>Puts <paramref name="run"/> first (or in its old place, if already there), keeping at most <paramref name="cap"/>.</summary>
    public static Run[] Upsert(Run[] runs, Run run, int cap)
    {
        for (var i = 0; i < runs.Length; i++)
        {
            if (runs[i].RunId != run.RunId) continue;
            var copy = (Run[])runs.Clone();
            copy[i] = run;
            return copy;
        }
        var kept = Math.Min(runs.Length + 1, cap);
        var next = new Run[kept];
        next[0] = run;
        Array.Copy(runs, 0, next, 1, kept - 1);
        return next;
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
        if (_journal is not null) Changed?.Invoke(id);
    }

    void Record(Guid id, JobEntry? previous)
    {
        // Forget what is already durable: it can no longer be undone.
        var durable = _journal!.DurableSeq;
        while (_undoHead < _undo.Count && _undo[_undoHead].Seq <= durable) _undoHead++;
        if (_undoHead > 1024 && _undoHead * 2 > _undo.Count)
        {
            _undo.RemoveRange(0, _undoHead);
            _undoHead = 0;
        }
        _undo.Add((_journal.NextSeq - 1, id, previous));
    }

    /// <summary>Called by the journal, under the gate, when lines from <paramref name="firstLost"/> on did not reach disk.</summary>
    void Undo(long firstLost)
    {
        for (var i = _undo.Count - 1; i >= _undoHead && _undo[i].Seq >= firstLost; i--)
        {
            var (_, id, previous) = _undo[i];
            Set(id, previous);
            _undo.RemoveAt(i);
        }
    }

    (int Count, IEnumerable<JournalLine> Lines) Snapshot()
    {
        var entries = new JobEntry[_order.Count];
        var count = entries.Length;
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = _jobs[_order[i].Id];
            count += entries[i].Runs.Length;
        }
        return (count, Lines(entries));
    }

    static IEnumerable<JournalLine> Lines(JobEntry[] entries)
    {
        foreach (var entry in entries)
        {
            yield return new JournalLine { Op = "job", Job = RecordMapping.ToRecord(entry.Job) };
            for (var i = entry.Runs.Length - 1; i >= 0; i--)
                yield return new JournalLine { Op = "run", RunRecord = entry.Runs[i] };
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

/// <summary>MAX_JOBS is reached.</summary>
public sealed class JobLimitException(int max) : Exception($"the job limit is reached ({max} jobs, set by MAX_JOBS)");
