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
        // One array per write, sized first: the new run, then each older run that is still kept.
        var count = 1;
        var olderFailed = 0;
        for (var i = 0; i < runs.Length; i++)
            if (Kept(runs[i], i + 1, cap, ref olderFailed)) count++;
        var kept = new Run[count];
        kept[0] = run;
        olderFailed = 0;
        for (int i = 0, k = 1; i < runs.Length; i++)
            if (Kept(runs[i], i + 1, cap, ref olderFailed)) kept[k++] = runs[i];
        return kept;
    }

    /// <summary>Whether the run at <paramref name="position"/> (0 is the newest) stays: among the newest, or among the newest failed of the rest.</summary>
    static bool Kept(Run run, int position, int cap, ref int olderFailed) =>
        position < cap || (run.Status == RunStatus.Failed && olderFailed++ < cap);

    /// <summary>True when the history already holds run <paramref name="runId"/> with a final status.</summary>
    public static bool EndedBefore(Run[] runs, Guid runId)
    {
        foreach (var run in runs)
            if (run.RunId == runId)
                return run.IsFinished;
        return false;
    }

}
