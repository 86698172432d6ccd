using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>One HTTP attempt of a run: either a status code or an error, never both. A value: runs keep it inline.</summary>
public readonly record struct Attempt(int Number, DateTimeOffset StartedAt, long DurationMs, int? StatusCode, string? Error, string? Response = null);

/// <summary>
/// One scheduled occurrence (or run-now) of a job. Immutable: each change makes a new record that
/// replaces the old one in the job's history and in the journal (upsert by <see cref="RunId"/>).
/// </summary>
public sealed record Run(
    Guid RunId,
    Guid JobId,
    RunTrigger Trigger,
    RunStatus Status,
    DateTimeOffset ScheduledAt,
    DateTimeOffset? FinishedAt,
    Attempt[] Attempts,
    string? Error)
{
    /// <summary>How many times the run was delivered again by replay (SPEC §4).</summary>
    public int Replays { get; init; }

    public bool IsFinished => Status is not (RunStatus.Running or RunStatus.Retrying);

    public static Guid NewId() => Guid.NewGuid();

    /// <summary>32 lower-case hex characters: a callee's idempotency key.</summary>
    public static string Text(Guid runId) => runId.ToString("N");

    /// <summary>Reads a run id as Ksana writes it: 32 hex characters.</summary>
    public static bool TryParseId(string text, out Guid runId) => Guid.TryParseExact(text, "N", out runId);
}
