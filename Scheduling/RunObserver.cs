using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// What the runner and the job table report as runs go by, for the metrics of SPEC §11. A class
/// whose methods do nothing unless overridden, rather than events or an interface: one virtual call
/// per step, nothing allocated, and Scheduling knows nothing of who listens (Operations derives the
/// one real observer; Hosting plugs it in). Every method is on a hot path, some under the table's
/// lock: an override must return within a microsecond and never wait.
/// </summary>
public class RunObserver
{
    public static readonly RunObserver None = new();

    /// <summary>A run's first attempt starts, <paramref name="lateness"/> after its planned fire time.</summary>
    public virtual void RunStarted(TimeSpan lateness) { }

    /// <summary>An attempt has a worker and is about to be sent.</summary>
    public virtual void AttemptStarted() { }

    /// <summary>An attempt that <see cref="AttemptStarted"/> reported has ended, after <paramref name="duration"/>.</summary>
    public virtual void AttemptFinished(in AttemptOutcome outcome, TimeSpan duration) { }

    /// <summary>A run waits for its next retry, holding no worker.</summary>
    public virtual void RetryWaiting() { }

    /// <summary>A run that <see cref="RetryWaiting"/> reported no longer waits (its retry is due, or it was stopped).</summary>
    public virtual void RetryDone() { }

    /// <summary>
    /// A run record reached a final status (succeeded, failed, skipped, missed) for the first time:
    /// called once per record, under the table's lock, whoever wrote it.
    /// </summary>
    public virtual void RunFinished(RunStatus status, DateTimeOffset finishedAt) { }

    /// <summary>A job's outbox was full and its oldest event gave way to a new one.</summary>
    public virtual void EventDropped() { }
}
