using Ksana.Scheduling;
using Ksana.Wire;

namespace Ksana.Operations;

/// <summary>
/// Turns what the runner and the job table report into <see cref="KsanaMetrics"/> series and the
/// status page's <see cref="RunsPerMinute"/>. A few interlocked operations per call, no allocation.
/// </summary>
public sealed class RunMetrics(KsanaMetrics metrics, RunsPerMinute perMinute) : RunObserver
{
    public override void RunStarted(TimeSpan lateness) => metrics.RunStarted(lateness);

    public override void AttemptStarted() => metrics.AttemptStarted();

    public override void AttemptFinished(in AttemptOutcome outcome, TimeSpan duration)
    {
        switch (Classify(outcome))
        {
            case { } counted when counted == KsanaMetrics.Outcome.Blocked:
                // Refused before it was sent: counted, but it was never on the wire, so not timed.
                metrics.AttemptsInFlight.Decrement();
                metrics.AttemptBlocked();
                break;
            case { } counted:
                metrics.AttemptFinished(counted, duration);
                break;
            default:
                // Stopped from outside (job deleted, shutdown): it ended, but with no outcome to count.
                metrics.AttemptsInFlight.Decrement();
                break;
        }
    }

    /// <summary>
    /// The outcome label of SPEC §11: an answer that is not 2xx is an http_error whether or not it is
    /// retried; no answer is a timeout or a connection error; a cancelled attempt has no label.
    /// </summary>
    public static KsanaMetrics.Outcome? Classify(in AttemptOutcome outcome) => outcome.Result switch
    {
        AttemptResult.Succeeded => KsanaMetrics.Outcome.Success,
        AttemptResult.Blocked => KsanaMetrics.Outcome.Blocked,
        AttemptResult.TimedOut => KsanaMetrics.Outcome.Timeout,
        AttemptResult.Retryable or AttemptResult.Failed when outcome.StatusCode is not null => KsanaMetrics.Outcome.HttpError,
        AttemptResult.Retryable or AttemptResult.Failed => KsanaMetrics.Outcome.ConnectionError,
        _ => null,
    };

    public override void RetryWaiting() => metrics.RetryWaiting();

    public override void EventDropped() => metrics.EventsDropped.Increment();

    public override void RetryDone() => metrics.RetryDone();

    public override void RunFinished(RunStatus status, DateTimeOffset finishedAt)
    {
        metrics.RunFinished(status);
        perMinute.Record(status, finishedAt);
    }
}

/// <summary>Turns what the journal reports into the <c>ksana_journal_*</c> series.</summary>
public sealed class JournalMetrics(KsanaMetrics metrics) : ChangeLogObserver
{
    public override void Synced(TimeSpan duration) => metrics.JournalSynced(duration);

    public override void WriteFailed() => metrics.JournalWriteFailed();

    public override void Compacted() => metrics.JournalCompacted();
}
