using System.Collections;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// A job's kept runs, newest first (SPEC §5), as one array of compact rows: no object per run.
/// A plain run (at most one attempt with a status code, no error, no response body, never replayed,
/// times in UTC) and a record of skipped slots live in their rows alone, so a job firing every
/// second keeps one object for its whole history, even under overload, and a run that falls out of
/// it leaves nothing for the collector to trace. Any other run keeps its <see cref="Run"/> by
/// reference in its row. Immutable: a write makes a new history, so a
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
    /// One kept run, 64 bytes. <see cref="_full"/> is null for a run the row can say whole; otherwise
    /// it is the run itself, and only <see cref="RunId"/>, <see cref="Status"/> and
    /// <see cref="ScheduledTicks"/> are read from the row. Two shapes fit a row alone:
    /// a plain run (at most one attempt, with a status code, no error, no response body, never
    /// replayed) and a record of skipped slots (<see cref="SkipSeries"/>), whose text is made again
    /// when it is read. Times are UTC.
    /// </summary>
    readonly struct Row
    {
        public readonly Guid RunId;
        readonly long _scheduledTicks;
        readonly long _finishedTicks; // 0: not finished
        readonly long _p;             // plain: the one attempt's start (0: no attempt); skip: the blocking run, first half
        readonly long _q;             // plain: duration ms << 16 | status code; skip: the blocking run, second half
        readonly int _kind;           // status | trigger << 8 | skipped count << 16 (0 for a plain run)
        readonly int _lastOffsetMs;   // skip: the last slot skipped, in ms after the first
        readonly Run? _full;

        public RunStatus Status => (RunStatus)(byte)_kind;
        public RunTrigger Trigger => (RunTrigger)(byte)(_kind >> 8);
        int SkipCount => _kind >>> 16;
        public long ScheduledTicks => _full?.ScheduledAt.UtcTicks ?? _scheduledTicks;

        Row(Run run, Run? full, int skipCount)
        {
            RunId = run.RunId;
            _kind = (byte)run.Status | (byte)run.Trigger << 8 | skipCount << 16;
            _full = full;
            if (full is not null) return;
            _scheduledTicks = run.ScheduledAt.UtcTicks;
            _finishedTicks = run.FinishedAt?.UtcTicks ?? 0;
            if (run.Skips is { } skips && skipCount > 0)
            {
                var id = skips.Blocker;
                var blocker = MemoryMarshal.Cast<Guid, long>(new ReadOnlySpan<Guid>(in id));
                (_p, _q) = (blocker[0], blocker[1]);
                _lastOffsetMs = (int)((skips.Last.UtcTicks - skips.First.UtcTicks) / TimeSpan.TicksPerMillisecond);
            }
            else if (run.Attempts is [var attempt])
            {
                _p = attempt.StartedAt.UtcTicks;
                _q = attempt.DurationMs << 16 | (ushort)attempt.StatusCode!.Value;
            }
        }

        public static Row Of(Run run) =>
            SkipShape(run) is var count and > 0 ? new(run, null, count)
            : PlainShape(run) ? new(run, null, 0)
            : new(run, run, 0);

        static bool UtcTimes(Run run) =>
            run.ScheduledAt.Offset == TimeSpan.Zero
            && (run.FinishedAt is not { } finished || (finished.Offset == TimeSpan.Zero && finished.UtcTicks != 0));

        /// <summary>Whether a row alone can say everything about the run.</summary>
        static bool PlainShape(Run run)
        {
            if (run.Replays != 0 || run.Error is not null || run.Skips is not null || !UtcTimes(run)) return false;
            return run.Attempts switch
            {
                [] => true,
                [var a] => a is { Number: 1, Error: null, Response: null, StatusCode: >= 0 and <= ushort.MaxValue, DurationMs: >= 0 and < 1L << 47 }
                           && a.StartedAt.Offset == TimeSpan.Zero && a.StartedAt.UtcTicks != 0,
                _ => false,
            };
        }

        /// <summary>The count of skipped slots when the run is a record of them that a row can hold alone; 0 otherwise.</summary>
        static int SkipShape(Run run)
        {
            if (run.Skips is not { } skips || run.Status != RunStatus.Skipped || run.Trigger != RunTrigger.Schedule
                || run.Replays != 0 || run.Attempts.Length != 0 || !UtcTimes(run)) return 0;
            var span = skips.Last.UtcTicks - skips.First.UtcTicks;
            return skips.Count is > 0 and <= ushort.MaxValue && skips.First == run.ScheduledAt && skips.First.Offset == TimeSpan.Zero
                && span >= 0 && span % TimeSpan.TicksPerMillisecond == 0 && span / TimeSpan.TicksPerMillisecond <= int.MaxValue
                ? skips.Count : 0;
        }

        public Run ToRun(Guid jobId)
        {
            if (_full is not null) return _full;
            var scheduled = new DateTimeOffset(_scheduledTicks, TimeSpan.Zero);
            DateTimeOffset? finished = _finishedTicks == 0 ? null : new DateTimeOffset(_finishedTicks, TimeSpan.Zero);
            if (SkipCount > 0)
            {
                Span<long> halves = [_p, _q];
                var blocker = MemoryMarshal.Cast<long, Guid>(halves)[0];
                var skips = new SkipSeries(SkipCount, scheduled, scheduled.AddMilliseconds(_lastOffsetMs), blocker);
                return Run.Skipped(RunId, jobId, skips, finished ?? scheduled);
            }
            Attempt[] attempts = _p == 0
                ? []
                : [new Attempt(1, new DateTimeOffset(_p, TimeSpan.Zero), _q >> 16, (ushort)_q, null)];
            return new Run(RunId, jobId, Trigger, Status, scheduled, finished, attempts, null);
        }
    }
}
