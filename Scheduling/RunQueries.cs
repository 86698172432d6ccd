using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>Which runs <see cref="RunQueries.List"/> returns (SPEC §4, <c>GET /runs</c>).</summary>
public readonly record struct RunQuery(int Limit, RunStatus? Status, Guid? JobId, DateTimeOffset? Since, (long Ticks, Guid RunId)? After);

/// <summary>
/// Runs across jobs, newest first by scheduled time (then run id). A scan over the runs each job
/// keeps, with a heap of one page: the cost is one pass over the kept runs, the memory one page.
/// </summary>
public static class RunQueries
{
    public static (List<Run> Page, bool More) List(JobTable table, RunQuery query)
    {
        IEnumerable<JobEntry> entries = query.JobId is { } id ? table.Get(id) is { } one ? [one] : [] : table.Entries;
        // A min-heap of the best Limit + 1 runs: its root is the oldest kept, the first to give way.
        var heap = new PriorityQueue<Run, (long, Guid)>(query.Limit + 1);
        var found = new List<(Run Run, (long, Guid) Key)>();
        foreach (var entry in entries)
        {
            // A job's runs that may enter the page, read again should the job write over a row meanwhile.
            RunHistory runs;
            do
            {
                found.Clear();
                runs = entry.Runs;
                var full = heap.Count > query.Limit;
                var oldest = full && heap.TryPeek(out _, out var root) ? root : default;
                for (var i = 0; i < runs.Length; i++)
                {
                    // Rows are filtered as they are read; only a run that may enter the page is made whole.
                    var (runId, runStatus, ticks) = runs.Key(i);
                    if (query.Status is { } status && runStatus != status) continue;
                    if (query.Since is { } since && ticks < since.UtcTicks) continue;
                    var key = (ticks, runId);
                    if (query.After is { } after && Compare(key, after) >= 0) continue;
                    if (!full || Compare(key, oldest) > 0) found.Add((runs[i], key));
                }
            }
            while (found.Count > 0 && !runs.Intact);
            foreach (var (run, key) in found)
            {
                if (heap.Count <= query.Limit) heap.Enqueue(run, key);
                else if (heap.TryPeek(out _, out var oldest) && Compare(key, oldest) > 0) heap.EnqueueDequeue(run, key);
            }
        }
        var more = heap.Count > query.Limit;
        if (more) heap.Dequeue();
        var page = new List<Run>(heap.Count);
        while (heap.Count > 0) page.Add(heap.Dequeue());
        page.Reverse();
        return (page, more);
    }

    /// <summary>A run by id, with its job's entry; null when no job keeps it.</summary>
    public static (JobEntry Entry, Run Run)? Find(JobTable table, Guid runId)
    {
        foreach (var entry in table.Entries)
        {
            // Read again only when found: a run whose row was written over has left the job's runs.
            Run? run;
            RunHistory runs;
            do
            {
                runs = entry.Runs;
                run = runs.Find(runId);
            }
            while (run is not null && !runs.Intact);
            if (run is not null) return (entry, run);
        }
        return null;
    }

    static int Compare((long Ticks, Guid Id) a, (long Ticks, Guid Id) b)
    {
        var c = a.Ticks.CompareTo(b.Ticks);
        return c != 0 ? c : a.Id.CompareTo(b.Id);
    }
}
