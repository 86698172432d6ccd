using Ksana.Wire;
using System.Buffers;
using Ksana.Scheduling;

namespace Ksana.Operations;

/// <summary>
/// Every series of SPEC §11, under exactly the names and labels it gives, plus the usual
/// <c>process_*</c> ones. One instance per server (a singleton). Recording is a handful of
/// <see cref="Interlocked"/> operations on preallocated longs: no lock, no allocation, no lookup,
/// so a callback's whole share (start, attempt, finish) stays well under a microsecond.
/// </summary>
/// <remarks>
/// A run's life, and the call each step makes:
/// <list type="number">
/// <item>its first attempt starts: <see cref="RunStarted"/> with start minus planned fire time;</item>
/// <item>each attempt: <see cref="AttemptStarted"/> before sending, <see cref="AttemptFinished"/> after;</item>
/// <item>a retry is parked: <see cref="RetryWaiting"/>; it leaves the wait (due, dropped or cancelled): <see cref="RetryDone"/>;</item>
/// <item>the run ends (succeeded, failed, skipped, missed): <see cref="RunFinished"/>.</item>
/// </list>
/// The journal calls <see cref="JournalSynced"/>, <see cref="JournalCompacted"/> and
/// <see cref="JournalWriteFailed"/>; the key check calls <see cref="AuthFailed"/>. Values other parts
/// already know are read at scrape time through <see cref="JobsByState"/>,
/// <see cref="JournalBytes"/> and <see cref="EventsPending"/> (<see cref="Gauge.ReadFrom"/>).
/// </remarks>
public sealed class KsanaMetrics
{
    /// <summary>How an attempt ended, as <c>ksana_attempts_total{outcome}</c> names it.</summary>
    public enum Outcome { Success, HttpError, Timeout, ConnectionError, Blocked }

    /// <summary>How many jobs are in each state at scrape time.</summary>
    public readonly record struct JobCounts(long Scheduled, long Paused, long Completed, long Missed);

    static readonly string[] OutcomeNames = ["success", "http_error", "timeout", "connection_error", "blocked"];
    static readonly string[] RunStatusNames = ["succeeded", "failed", "skipped", "missed"];
    static readonly string[] JobStateNames = ["scheduled", "paused", "completed", "missed"];

    /// <summary>1 ms to 60 s: a run on time is late by a few ms; one behind a full worker pool by seconds.</summary>
    public static readonly double[] LatenessBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    /// <summary>1 ms to 60 s: callbacks on a LAN answer in ms; the longest timeout people set is about a minute.</summary>
    public static readonly double[] DurationBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    /// <summary>100 µs to 10 s: an NVMe fsync takes ~100 µs, an SD card on an edge box can stall for seconds.</summary>
    public static readonly double[] SyncBounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

    readonly string _version;
    readonly double _startTimeSeconds;
    Func<JobCounts>? _jobsByState;

    public KsanaMetrics(string version, DateTimeOffset processStartedAt)
    {
        _version = version;
        _startTimeSeconds = processStartedAt.ToUnixTimeMilliseconds() / 1000.0;
    }

    public Counter Runs { get; } = new("ksana_runs_total", "Finished runs, by how they ended.", "status", RunStatusNames);
    public Counter Attempts { get; } = new("ksana_attempts_total", "Finished HTTP attempts, by outcome.", "outcome", OutcomeNames);
    public Histogram RunLateness { get; } = new("ksana_run_lateness_seconds",
        "Seconds from a run's planned fire time to the start of its first attempt.", LatenessBounds);
    public Histogram AttemptDuration { get; } = new("ksana_attempt_duration_seconds",
        "Seconds an HTTP attempt took, from sending to the end of the answer or the error.", DurationBounds);
    public Gauge AttemptsInFlight { get; } = new("ksana_attempts_in_flight", "HTTP attempts being made now.");
    public Gauge RetriesWaiting { get; } = new("ksana_retries_waiting", "Runs waiting for their next retry.");
    public Histogram JournalSync { get; } = new("ksana_journal_sync_seconds", "Seconds each journal fsync took.", SyncBounds);
    public Gauge JournalBytes { get; } = new("ksana_journal_bytes", "Size of the journal file in bytes.");
    public Counter JournalCompactions { get; } = new("ksana_journal_compactions_total", "Journal compactions since start.");
    public Counter JournalWriteErrors { get; } = new("ksana_journal_write_errors_total", "Journal writes or syncs that failed since start.");
    public Counter AuthFailures { get; } = new("ksana_auth_failures_total", "Requests refused for a missing or wrong API key since start.");
    public Counter EventsDropped { get; } = new("ksana_events_dropped_total", "Events dropped from a full job outbox (1 000 events) since start: EVENTS_URL has been failing.");
    public Gauge EventsPending { get; } = new("ksana_events_pending", "Events (SPEC §9) not yet delivered to EVENTS_URL.");

    /// <summary>Read at scrape time for <c>ksana_jobs{state}</c>; until set, every state shows 0.</summary>
    public Func<JobCounts>? JobsByState
    {
        get => Volatile.Read(ref _jobsByState);
        set => Volatile.Write(ref _jobsByState, value);
    }

    // ---- recording: the hot path ------------------------------------------------------------

    /// <summary>A run's first attempt starts; <paramref name="lateness"/> is that start minus the planned fire time.</summary>
    public void RunStarted(TimeSpan lateness) => RunLateness.Observe(lateness);

    public void AttemptStarted() => AttemptsInFlight.Increment();

    /// <summary>An attempt that <see cref="AttemptStarted"/> counted has ended.</summary>
    public void AttemptFinished(Outcome outcome, TimeSpan duration)
    {
        AttemptsInFlight.Decrement();
        Attempts.Increment((int)outcome);
        AttemptDuration.Observe(duration);
    }

    /// <summary>
    /// A blocked attempt (SPEC §10) is refused before it is sent: counted, but neither in flight nor timed.
    /// </summary>
    public void AttemptBlocked() => Attempts.Increment((int)Outcome.Blocked);

    public void RetryWaiting() => RetriesWaiting.Increment();

    public void RetryDone() => RetriesWaiting.Decrement();

    /// <summary>The index of a final status among succeeded, failed, skipped, missed; -1 for running and retrying.</summary>
    public static int FinalLabel(RunStatus status) => status switch
    {
        RunStatus.Succeeded => 0,
        RunStatus.Failed => 1,
        RunStatus.Skipped => 2,
        RunStatus.Missed => 3,
        _ => -1,
    };

    /// <summary>A run reached a final status. <c>running</c> and <c>retrying</c> are not final and are ignored.</summary>
    public void RunFinished(RunStatus status)
    {
        var label = FinalLabel(status);
        if (label >= 0) Runs.Increment(label);
    }

    public void JournalSynced(TimeSpan duration) => JournalSync.Observe(duration);

    public void JournalCompacted() => JournalCompactions.Increment();

    public void JournalWriteFailed() => JournalWriteErrors.Increment();

    public void AuthFailed() => AuthFailures.Increment();

    // ---- scraping -----------------------------------------------------------------------------

    /// <summary>Writes every series in the text format 0.0.4 (<see cref="MetricsWriter.ContentType"/>).</summary>
    public void WriteTo(IBufferWriter<byte> output)
    {
        var writer = new MetricsWriter(output);

        writer.Family("ksana_build_info", "Ksana's version; always 1.", "gauge");
        writer.Sample("ksana_build_info", null, "version", _version, 1L);

        var jobs = JobsByState?.Invoke() ?? default;
        writer.Family("ksana_jobs", "Jobs, by state.", "gauge");
        writer.Sample("ksana_jobs", null, "state", JobStateNames[0], jobs.Scheduled);
        writer.Sample("ksana_jobs", null, "state", JobStateNames[1], jobs.Paused);
        writer.Sample("ksana_jobs", null, "state", JobStateNames[2], jobs.Completed);
        writer.Sample("ksana_jobs", null, "state", JobStateNames[3], jobs.Missed);

        Runs.WriteTo(writer);
        Attempts.WriteTo(writer);
        RunLateness.WriteTo(writer);
        AttemptDuration.WriteTo(writer);
        AttemptsInFlight.WriteTo(writer);
        RetriesWaiting.WriteTo(writer);
        JournalSync.WriteTo(writer);
        JournalBytes.WriteTo(writer);
        JournalCompactions.WriteTo(writer);
        JournalWriteErrors.WriteTo(writer);
        AuthFailures.WriteTo(writer);
        EventsDropped.WriteTo(writer);
        EventsPending.WriteTo(writer);
        ProcessStats.WriteTo(writer, _startTimeSeconds);
    }
}
