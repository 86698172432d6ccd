namespace Ksana.Scheduling;

/// <summary>
/// Cluster mode (SPEC §12): every node keeps the whole table in memory, and applies here what the
/// other nodes wrote to the shared database. Such a change is already durable, so it is not handed
/// to the change log; it gets a local version (a concurrent local update then sees a conflict and
/// retries on the new state) and wakes the scheduler as a local change does.
/// </summary>
public sealed partial class JobTable
{
    /// <summary>A job as the database now holds it; null: it was deleted.</summary>
    public void ApplyRemoteJob(Guid id, Job? job)
    {
        lock (_lock)
        {
            if (job is null)
            {
                Set(id, null);
                return;
            }
            job = job with { Version = ++_lastNumber };
            Set(id, _jobs.Get(id) is { } old ? old with { Job = job } : new JobEntry(job, []));
        }
    }

    /// <summary>A run as the database now holds it; dropped when its job is unknown here.</summary>
    public void ApplyRemoteRun(Run run)
    {
        lock (_lock)
        {
            if (_jobs.Get(run.JobId) is { } entry)
                WriteRuns(entry, RunHistory.Upsert(entry.Runs, run, RunsKept));
        }
    }

    /// <summary>A job's outbox as the database now holds it.</summary>
    public void ApplyRemoteOutbox(Guid jobId, Event[] outbox)
    {
        lock (_lock)
        {
            if (_jobs.Get(jobId) is { } entry) _jobs.Set(entry with { Outbox = outbox });
        }
    }

    /// <summary>An answer remembered on another node.</summary>
    public void ApplyRemoteAnswer(RememberedAnswer answer)
    {
        lock (_lock) Answers.Add(answer, 0);
    }

    /// <summary>The ids of every job (the cluster's full resynchronisation).</summary>
    public Guid[] Ids()
    {
        lock (_lock)
        {
            var ids = new Guid[_order.Count];
            for (var i = 0; i < ids.Length; i++) ids[i] = _order[i].Id;
            return ids;
        }
    }
}
