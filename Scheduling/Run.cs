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

    /// <summary>
    /// For a record of skipped slots made by <see cref="Skipped"/>: what its <see cref="Error"/> says,
    /// as values, so that a job's history can keep the record without the text. Null otherwise.
    /// </summary>
    public SkipSeries? Skips { get; init; }

    /// <summary>The record of <paramref name="skips"/>: slots of one job skipped behind its run in flight (SPEC §2).</summary>
    public static Run Skipped(Guid recordId, Guid jobId, SkipSeries skips, DateTimeOffset finishedAt) =>
        new(recordId, jobId, RunTrigger.Schedule, RunStatus.Skipped, skips.First, finishedAt, [], skips.Text()) { Skips = skips };

    public bool IsFinished => Ended(Status);

    /// <summary>Whether a run with this status has ended (neither running nor waiting to retry).</summary>
    public static bool Ended(RunStatus status) => status is not (RunStatus.Running or RunStatus.Retrying);

    public static Guid NewId(DateTimeOffset now) => Ids.New(now);

    /// <summary>32 lower-case hex characters: a callee's idempotency key.</summary>
    public static string Text(Guid runId) => runId.ToString("N");

    /// <summary>Reads a run id as Ksana writes it: 32 hex characters.</summary>
    public static bool TryParseId(string text, out Guid runId) => Guid.TryParseExact(text, "N", out runId);
}

/// <summary><paramref name="Count"/> slots from <paramref name="First"/> to <paramref name="Last"/> skipped while run <paramref name="Blocker"/> was in flight.</summary>
public sealed record SkipSeries(int Count, DateTimeOffset First, DateTimeOffset Last, Guid Blocker)
{
    /// <summary>The longest text <see cref="Write"/> makes.</summary>
    public const int TextMax = 256;

    /// <summary>The record's error text (the blocking run is unnamed when it had ended before it could be named).</summary>
    public string Text()
    {
        Span<char> text = stackalloc char[TextMax];
        return new string(text[..Write(text)]);
    }

    /// <summary>
    /// Writes <see cref="Text"/> into <paramref name="into"/> (at least <see cref="TextMax"/> long) and
    /// answers its length: a compaction writes the records of skipped slots without a string each.
    /// </summary>
    public int Write(Span<char> into)
    {
        var n = 0;
        if (Count == 1) n += Put(into, n, "skipped: ");
        else
        {
            Count.TryFormat(into, out n, default, System.Globalization.CultureInfo.InvariantCulture);
            n += Put(into, n, " slots skipped, ");
            n += Rfc3339.Format(First, into[n..]);
            n += Put(into, n, " to ");
            n += Rfc3339.Format(Last, into[n..]);
            n += Put(into, n, ": ");
        }
        n += Put(into, n, "the previous run");
        if (Blocker != Guid.Empty)
        {
            into[n++] = ' ';
            Blocker.TryFormat(into[n..], out var written, "N");
            n += written;
        }
        return n + Put(into, n, " was still in flight");
    }

    static int Put(Span<char> into, int at, string text)
    {
        text.CopyTo(into[at..]);
        return text.Length;
    }

    /// <summary>
    /// The series that <paramref name="text"/>, the error of a record of skipped slots scheduled at
    /// <paramref name="first"/>, says; null unless <see cref="Text"/> gives that very text back (a
    /// record read from the journal is then kept as compactly as the one written).
    /// </summary>
    public static SkipSeries? Parse(string text, DateTimeOffset first)
    {
        const string Single = "skipped: ", Tail = " was still in flight", Unnamed = "the previous run", Named = "the previous run ";
        var count = 1;
        var last = first;
        ReadOnlySpan<char> rest;
        if (text.StartsWith(Single, StringComparison.Ordinal)) rest = text.AsSpan(Single.Length);
        else
        {
            var span = text.AsSpan();
            var space = span.IndexOf(" slots skipped, ", StringComparison.Ordinal);
            if (space <= 0 || !int.TryParse(span[..space], System.Globalization.NumberStyles.None, null, out count)) return null;
            span = span[(space + " slots skipped, ".Length)..];
            var to = span.IndexOf(" to ", StringComparison.Ordinal);
            var colon = span.IndexOf(": ", StringComparison.Ordinal);
            if (to < 0 || colon < to
                || !Rfc3339.TryParse(span[..to], out var from, out _) || from != first
                || !Rfc3339.TryParse(span[(to + 4)..colon], out last, out _)) return null;
            rest = span[(colon + 2)..];
        }
        if (!rest.EndsWith(Tail, StringComparison.Ordinal)) return null;
        rest = rest[..^Tail.Length];
        var blocker = Guid.Empty;
        if (!rest.SequenceEqual(Unnamed)
            && (!rest.StartsWith(Named, StringComparison.Ordinal) || !Guid.TryParseExact(rest[Named.Length..], "N", out blocker))) return null;
        var series = new SkipSeries(count, first, last, blocker);
        return series.Text() == text ? series : null;
    }
}
