namespace Ksana.Scheduling;

public enum ScheduleKind { Every, Once }

/// <summary>
/// When a job fires. <c>Every</c> runs on the fixed grid <c>origin + k·Every</c> so runs never drift;
/// the origin is <see cref="StartAt"/> when the client gives one, else the time the schedule was set.
/// </summary>
public sealed record Schedule(ScheduleKind Kind, TimeSpan Every, DateTimeOffset RunAt, DateTimeOffset? StartAt)
{
    public static Schedule EveryInterval(TimeSpan every, DateTimeOffset? startAt = null) =>
        new(ScheduleKind.Every, every, default, startAt);

    public static Schedule OnceAt(DateTimeOffset runAt) => new(ScheduleKind.Once, default, runAt, null);
}

/// <summary>The outbound call a job makes. Header order is kept as the client gave it.</summary>
public sealed record HttpTarget(string Method, string Url, IReadOnlyList<KeyValuePair<string, string>> Headers, string Body)
{
    /// <summary>The methods a job may use, upper case. Jobs share these instances rather than a string each.</summary>
    public static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

    public bool Equals(HttpTarget? other) =>
        other is not null && Method == other.Method && Url == other.Url && Body == other.Body
        && Headers.SequenceEqual(other.Headers);

    public override int GetHashCode() => HashCode.Combine(Method, Url, Body, Headers.Count);
}

/// <summary>Everything the client writes, with server defaults already filled in.</summary>
public sealed record JobSpec(
    string Name,
    bool Enabled,
    HttpTarget Http,
    Schedule Schedule,
    TimeSpan Timeout,
    int MaxRetries,
    TimeSpan RetryBackoff);

/// <summary>What became of a once job's single slot.</summary>
public enum OnceOutcome { Pending, Fired, Missed }

public enum JobState { Scheduled, Paused, Completed, Missed }

/// <summary>
/// A job as stored: immutable, replaced whole on every change. <see cref="Seq"/> is the journal
/// sequence number of the record that last wrote it, so it doubles as a version.
/// </summary>
public sealed record Job(
    Guid Id,
    JobSpec Spec,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset GridOrigin,
    OnceOutcome Once,
    long Seq)
{
    public JobState State => Spec.Schedule.Kind == ScheduleKind.Once && Once == OnceOutcome.Missed ? JobState.Missed
        : Spec.Schedule.Kind == ScheduleKind.Once && Once == OnceOutcome.Fired ? JobState.Completed
        : Spec.Enabled ? JobState.Scheduled
        : JobState.Paused;
}
