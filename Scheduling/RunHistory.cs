using System.Collections;
using System.Runtime.CompilerServices;
using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// A job's kept runs, newest first (SPEC §5), as one array of compact rows: no object per run.
/// A plain run (at most one attempt with a status code, no error, no response body, never replayed,
/// times in UTC) lives in its row alone, so a job firing every second keeps one object for its whole
/// history, and a run that falls out of it leaves nothing for the collector to trace. Any other run
/// keeps its <see cref="Run"/> by reference in its row. Immutable: a write makes a new history, so a
/// reader, an undo or a compaction snapshot holding the old one sees it unchanged.
/// </summary>
[CollectionBuilder(typeof(RunHistory), nameof(Of))]
public readonly struct RunHistory : IReadOnlyList<Run>
{
    readonly Row[]? _rows;
    readonly Guid _jobId;

    RunHistory(Row[] rows, Guid jobId)
    {
        _rows = rows;
        _jobId = jobId;
    }

    public static RunHistory Empty => default;

    /// <summary>A history of these runs, newest first, as given (tests, and collection expressions).</summary>
    public static RunHistory Of(ReadOnlySpan<Run> runs)
    {
        if (runs.IsEmpty) return default;
        var rows = new Row[runs.Length];
        for (var i = 0; i < rows.Length; i++) rows[i] = Row.Of(runs[i]);
        return new RunHistory(rows, runs[0].JobId);
    }

    ReadOnlySpan<Row> Rows => _rows;

    public int Length => _rows?.Length ?? 0;
    public int Count => Length;

    /// <summary>The run at <paramref name="index"/> (0 is the newest), made whole from its row.</summary>
    public Run this[int index] => Rows[index].ToRun(_jobId);

    /// <summary>Run <paramref name="index"/>'s id, status and scheduled_at (UTC ticks), read without making a <see cref="Run"/> (scans).</summary>
    public (Guid RunId, RunStatus Status, long ScheduledTicks) Key(int index)
    {
        ref readonly var row = ref Rows[index];
        return (row.RunId, row.Status, row.ScheduledTicks);
    }

    /// <summary>Whether the newest run is a scheduled one still in flight (without making a <see cref="Run"/>).</summary>
    public bool NewestIsUnfinishedSchedule =>
        Rows is [var newest, ..] && !Finished(newest.Status) && newest.Trigger == RunTrigger.Schedule;

    /// <summary>The kept run <paramref name="runId"/>, or null.</summary>
    public Run? Find(Guid runId)
    {
        foreach (ref readonly var row in Rows)
            if (row.RunId == runId)
                return row.ToRun(_jobId);
        return null;
    }

    /// <summary>
    /// Puts <paramref name="run"/> first (or in its old place, if already there). A job keeps its
    /// <paramref name="cap"/> most recent runs and, apart from them, its <paramref name="cap"/> most
    /// recent failed runs (SPEC §5), so a failure is not pushed out by the successes after it.
    /// </summary>
    public static RunHistory Upsert(RunHistory history, Run run, int cap)
    {
        var rows = history.Rows;
        var row = Row.Of(run);
        for (var i = 0; i < rows.Length; i++)
        {
            if (rows[i].RunId != run.RunId) continue;
            var copy = rows.ToArray();
            copy[i] = row;
            return new RunHistory(copy, run.JobId);
        }
        // One array per write, sized first: the new run, then each older run that is still kept.
        var count = 1;
        var olderFailed = 0;
        for (var i = 0; i < rows.Length; i++)
            if (Kept(rows[i].Status, i + 1, cap, ref olderFailed)) count++;
        var kept = new Row[count];
        kept[0] = row;
        olderFailed = 0;
        for (int i = 0, k = 1; i < rows.Length; i++)
            if (Kept(rows[i].Status, i + 1, cap, ref olderFailed)) kept[k++] = rows[i];
        return new RunHistory(kept, run.JobId);
    }

    /// <summary>Whether the run at <paramref name="position"/> (0 is the newest) stays: among the newest, or among the newest failed of the rest.</summary>
    static bool Kept(RunStatus status, int position, int cap, ref int olderFailed) =>
        position < cap || (status == RunStatus.Failed && olderFailed++ < cap);

    /// <summary>True when the history already holds run <paramref name="runId"/> with a final status.</summary>
    public static bool EndedBefore(RunHistory history, Guid runId)
    {
        foreach (ref readonly var row in history.Rows)
            if (row.RunId == runId)
                return Finished(row.Status);
        return false;
    }

    static bool Finished(RunStatus status) => status is not (RunStatus.Running or RunStatus.Retrying);

    public Enumerator GetEnumerator() => new(this);
    IEnumerator<Run> IEnumerable<Run>.GetEnumerator() => GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public struct Enumerator(RunHistory history) : IEnumerator<Run>
    {
        int _index = -1;

        public readonly Run Current => history[_index];
        readonly object IEnumerator.Current => Current;
        public bool MoveNext() => ++_index < history.Length;
        public void Reset() => _index = -1;
        public readonly void Dispose() { }
    }

    /// <summary>
    /// One kept run. <see cref="Full"/> is null for a plain run, whose every field is here; otherwise
    /// it is the run itself, and only <see cref="RunId"/> and <see cref="Status"/> are read from the row.
    /// </summary>
    readonly struct Row
    {
        public readonly Guid RunId;
        readonly long _scheduledTicks;
        readonly long _finishedTicks; // 0: not finished
        readonly long _startedTicks;  // the one attempt's start; 0: no attempt
        readonly int _durationMs;
        readonly short _statusCode;
        readonly byte _status, _trigger;
        readonly Run? _full;

        public RunStatus Status => (RunStatus)_status;
        public long ScheduledTicks => _full?.ScheduledAt.UtcTicks ?? _scheduledTicks;
        public RunTrigger Trigger => (RunTrigger)_trigger;

        Row(Run run, Run? full)
        {
            RunId = run.RunId;
            _status = (byte)run.Status;
            _trigger = (byte)run.Trigger;
            _full = full;
            if (full is not null) return;
            _scheduledTicks = run.ScheduledAt.UtcTicks;
            _finishedTicks = run.FinishedAt?.UtcTicks ?? 0;
            if (run.Attempts is [var attempt])
            {
                _startedTicks = attempt.StartedAt.UtcTicks;
                _durationMs = (int)attempt.DurationMs;
                _statusCode = (short)attempt.StatusCode!.Value;
            }
        }

        public static Row Of(Run run) => new(run, Plain(run) ? null : run);

        /// <summary>Whether a row alone can say everything about the run.</summary>
        static bool Plain(Run run)
        {
            if (run.Replays != 0 || run.Error is not null || run.ScheduledAt.Offset != TimeSpan.Zero) return false;
            if (run.FinishedAt is { } finished && (finished.Offset != TimeSpan.Zero || finished.UtcTicks == 0)) return false;
            return run.Attempts switch
            {
                [] => true,
                [var a] => a is { Number: 1, Error: null, Response: null, StatusCode: >= 0 and <= short.MaxValue, DurationMs: >= 0 and <= int.MaxValue }
                           && a.StartedAt.Offset == TimeSpan.Zero && a.StartedAt.UtcTicks != 0,
                _ => false,
            };
        }

        public Run ToRun(Guid jobId)
        {
            if (_full is not null) return _full;
            Attempt[] attempts = _startedTicks == 0
                ? []
                : [new Attempt(1, new DateTimeOffset(_startedTicks, TimeSpan.Zero), _durationMs, _statusCode, null)];
            return new Run(RunId, jobId, Trigger, Status, new DateTimeOffset(_scheduledTicks, TimeSpan.Zero),
                _finishedTicks == 0 ? null : new DateTimeOffset(_finishedTicks, TimeSpan.Zero), attempts, null);
        }
    }
}
