using Ksana.Scheduling.Schedules;
using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// The outbound call a job makes. Header order is kept as the client gave it. A value held in its
/// job's record, as is the <see cref="JobSpec"/> around it, rather than an object of its own each.
/// </summary>
public readonly record struct HttpTarget(string Method, string Url, IReadOnlyList<KeyValuePair<string, string>> Headers, string Body)
{
    /// <summary>The methods a job may use, upper case. Jobs share these instances rather than a string each.</summary>
    public static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

    public bool Equals(HttpTarget other) =>
        Method == other.Method && Url == other.Url && Body == other.Body && Headers.SequenceEqual(other.Headers);

    public override int GetHashCode() => HashCode.Combine(Method, Url, Body, Headers.Count);
}

/// <summary>Everything the client writes, with server defaults already filled in (a value: see <see cref="HttpTarget"/>).</summary>
public readonly record struct JobSpec(
    string Name,
    bool Enabled,
    HttpTarget Http,
    Schedule Schedule,
    Duration Timeout,
    int MaxRetries,
    Duration RetryBackoff)
{
    /// <summary>The client's stable handle (SPEC §2), unique among jobs; null when not set.</summary>
    public string? Key { get; init; }

    /// <summary>Pause the job after this many consecutive failed runs; 0 never.</summary>
    public int PauseAfterFailures { get; init; }
}

/// <summary>
/// What became of the single slot of a kind that fires once. For the other kinds <see cref="Fired"/>
/// means the schedule ran out of slots (its end_at passed): the job is completed.
/// </summary>
public enum OnceOutcome { Pending, Fired, Missed }

/// <summary>
/// A job as stored: immutable, replaced whole on every change. <see cref="Version"/> is the number
/// of the change that last wrote it (given by the <see cref="JobTable"/>), so a writer can tell
/// whether the job changed under it.
/// </summary>
public sealed record Job(
    Guid Id,
    JobSpec Spec,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset GridOrigin,
    OnceOutcome Once,
    long Version)
{
    // The three times as UTC ticks, 8 bytes each where a DateTimeOffset takes 16: 24 bytes a job,
    // 2.4 MB of the table at 100 000 jobs. The offset is not kept: a time given with another one
    // comes back as the same instant in UTC, which is how the clock, the codec and the API give them.
    readonly long _createdAt = CreatedAt.UtcTicks;
    readonly long _updatedAt = UpdatedAt.UtcTicks;
    readonly long _gridOrigin = GridOrigin.UtcTicks;

    public DateTimeOffset CreatedAt { get => new(_createdAt, TimeSpan.Zero); init => _createdAt = value.UtcTicks; }
    public DateTimeOffset UpdatedAt { get => new(_updatedAt, TimeSpan.Zero); init => _updatedAt = value.UtcTicks; }
    public DateTimeOffset GridOrigin { get => new(_gridOrigin, TimeSpan.Zero); init => _gridOrigin = value.UtcTicks; }

    Cached<Uri> _address;

    /// <summary>
    /// The target's URL parsed once per job rather than once per attempt. A copy made with
    /// <c>with</c> carries the field, so the cached value counts only while it was parsed from this very string.
    /// </summary>
    public Uri Address
    {
        get
        {
            var address = _address.Value;
            var url = Spec.Http.Url;
            if (address is null || !ReferenceEquals(address.OriginalString, url)) _address.Value = address = new Uri(url);
            return address;
        }
    }

    /// <summary>Why the server paused the job (pause_after_failures); cleared by resume.</summary>
    public string? PausedReason { get; init; }

    /// <summary>Consecutive failed runs; skipped and missed runs neither count nor reset it.</summary>
    public int FailureStreak { get; init; }

    /// <summary>
    /// The streak when the job was last resumed: pause_after_failures counts the failures since, so
    /// a resumed job gets its full allowance, while job.recovered still waits for the first success.
    /// </summary>
    public int StreakAtResume { get; init; }

    public JobState State => Spec.Schedule.FiresOnce && Once == OnceOutcome.Missed ? JobState.Missed
        : Once == OnceOutcome.Fired ? JobState.Completed
        : Spec.Enabled ? JobState.Scheduled
        : JobState.Paused;

    /// <summary>
    /// The next slot of the job strictly after <paramref name="after"/>, or null when it will not fire
    /// on its schedule (paused; a once job already fired or missed; past its end_at; completed). A kind that fires
    /// once has its one slot until it has fired, wherever <paramref name="after"/> is.
    /// </summary>
    public DateTimeOffset? NextSlotAfter(DateTimeOffset after)
    {
        if (!Spec.Enabled) return null;
        var schedule = Spec.Schedule;
        if (Once != OnceOutcome.Pending) return null;
        return schedule.FiresOnce ? OnlySlot : schedule.SlotAfter(after, GridOrigin);
    }

    /// <summary>The single slot of a kind that fires once (whether or not it has fired); null for other kinds.</summary>
    public DateTimeOffset? OnlySlot =>
        Spec.Schedule.FiresOnce ? Spec.Schedule.SlotAfter(DateTimeOffset.MinValue, GridOrigin) : null;

    /// <summary>
    /// The next slot whose fire time (jitter included) is strictly after <paramref name="after"/>:
    /// what the scheduler plans and <c>next_run_at</c> shows. With jitter a slot at or before
    /// <paramref name="after"/> may still be due, so the search starts one jitter earlier.
    /// </summary>
    public (DateTimeOffset Slot, DateTimeOffset FireAt)? NextAfter(DateTimeOffset after)
    {
        var jitter = Spec.Schedule.Options.Jitter.ToTimeSpan();
        var slot = NextSlotAfter(jitter > TimeSpan.Zero ? after - jitter : after);
        for (var i = 0; slot is { } s && i < SlotSearchMax; i++)
        {
            var fireAt = Spec.Schedule.FireTime(Id, s);
            if (fireAt > after || Spec.Schedule.FiresOnce) return (s, fireAt);
            slot = NextSlotAfter(s);
        }
        return null;
    }

    /// <summary>Bounds the search above: a one-second cron with an hour of jitter looks at 3 600 slots.</summary>
    const int SlotSearchMax = 10_000;
}

/// <summary>
/// A value a record caches for itself (made from its other members, and made again when they
/// change): always equal to any other, so that it takes no part in the record's equality.
/// </summary>
internal struct Cached<T> : IEquatable<Cached<T>> where T : class
{
    public T? Value;

    public readonly bool Equals(Cached<T> other) => true;

    public override readonly bool Equals(object? obj) => obj is Cached<T>;

    public override readonly int GetHashCode() => 0;
}
