namespace Ksana.Scheduling;

/// <summary>Why a change to jobs was not made: expected failures, which handlers answer as problems.</summary>
public enum Refusal
{
    None,
    /// <summary>No such job: 404.</summary>
    NotFound,
    /// <summary>The change clashes with the state (MAX_JOBS reached, a run in flight): 409.</summary>
    Conflict,
    /// <summary>The change log takes no writes (disk full, read-only): 503; nothing was changed.</summary>
    Unavailable,
}

/// <summary>The answer of a job lifecycle call: a value, or why there is none, in words for the client.</summary>
public readonly record struct JobResult<T>(T? Value, Refusal Refusal = Refusal.None, string? Why = null)
{
    public static implicit operator JobResult<T>(T value) => new(value);

    public static JobResult<T> Refused(Refusal refusal, string? why = null) => new(default, refusal, why);
}
