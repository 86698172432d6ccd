namespace Ksana.Scheduling;

/// <summary>What a claim on a run said (cluster mode, SPEC §12).</summary>
public enum ClaimResult
{
    /// <summary>The run is this node's: its slot was not fired before, and no run of its job is in flight elsewhere.</summary>
    Claimed,
    /// <summary>This node no longer holds the lease on the job's partition: another node fires it.</summary>
    NotOwner,
    /// <summary>The slot was already fired, by this node or another.</summary>
    AlreadyFired,
    /// <summary>A run of the job is in flight on another node: runs of a job never overlap.</summary>
    Busy,
    /// <summary>The database could not be asked: nothing is fired that cannot be proven unique.</summary>
    Unavailable,
}

/// <summary>
/// Claims a run before its first attempt. Scheduled runs are <paramref name="fenced"/>: only the
/// holder of the job's lease may claim them. A single box has no claim: every run is its own.
/// </summary>
public delegate ValueTask<ClaimResult> ClaimRun(RunInFlight run, bool fenced);
