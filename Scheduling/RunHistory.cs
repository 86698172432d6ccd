using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>Which runs a job keeps (SPEC §5): a pure function of its history and the run written.</summary>
public static class RunHistory
{
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

    /// <summary>True when the history already holds run <paramref name="runId"/> with a final status.</summary>
    public static bool EndedBefore(Run[] runs, Guid runId)
    {
        foreach (var run in runs)
            if (run.RunId == runId)
                return run.IsFinished;
        return false;
    }

}
