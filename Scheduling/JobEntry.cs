using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// A job with its most recent runs, newest first, and its outbox: the events for EVENTS_URL not yet
/// delivered, oldest first. Immutable: replaced whole on every change.
/// </summary>
public sealed record JobEntry(Job Job, RunHistory Runs)
{
    public Event[] Outbox { get; init; } = [];

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
