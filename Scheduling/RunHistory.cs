using System.Collections;
using System.Runtime.CompilerServices;
using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// A job's kept runs, newest first (SPEC §5), as compact rows (<see cref="Row"/>, 48 bytes): no
/// object per plain run (at most one attempt with a status code, no error, no response body, never
/// replayed, times whole milliseconds near its slot). A record of skipped slots keeps its
/// <see cref="SkipSeries"/> by reference in its row, and any other run its <see cref="Run"/>.
///
/// Four parts, newest first: the record of slots skipped behind the run in flight
/// (<see cref="_openSkips"/>), the run in flight (<see cref="_open"/>), each at most one and kept
/// as it is until that run ends; the recent rows (the newest RUNS_KEPT, oldest first in a shared
/// buffer); and the older failed runs kept besides (newest first, SPEC §5: a failure is not pushed
/// out by the successes after it). A run that starts takes the open place; when it ends its row,
/// then the row of the slots skipped behind it, are appended to the buffer in place, past the end
/// of every history that shares it, and the oldest recent row leaves by moving the start.
///
/// The buffer is a ring once it is full: the rows beyond the recent ones that it was made with
/// (up to <see cref="Slack"/>; a history grown one run at a time has buffers of 2, 6, 14 and then
/// 23 rows, so with RUNS_KEPT 20 its ring has 3), and a row is written over the oldest row that left (rows are numbered from the buffer's first, and
/// row n lives at n modulo its length). So a job firing every second writes its rows into one
/// array for good, and a run leaves nothing that lives until the job's next run: a copy every
/// <see cref="Slack"/> runs was about 170 bytes a run that outlived the young generation.
///
/// A history never shows a row written after it was made, so a reader, an undo or a compaction
/// snapshot holding an old history sees it unchanged, as long as no row it shows is written over.
/// Writes are made under the table's lock (or by the single replay thread). A history writes in
/// place only when it ends where the buffer's written rows end (any other, an older history after
/// an undo, copies), and writes over a row that left only when what the table says rules out that
/// anyone holds a history that shows it (<see cref="Overwrite"/>): no undo can go back to such a
/// history, and no compaction's snapshot holds one. Otherwise it copies, as before. A reader of the
/// API holds a history while it copies the rows it shows into its answer, before any byte is
/// written; for it to see a row written over, the job would have to write as many rows as its
/// ring has beyond the recent ones (3 for most) during that copy. A row is counted before it is
/// written, so such a reader can tell afterwards (<see cref="Intact"/>) and read again.
/// </summary>
[CollectionBuilder(typeof(RunHistory), nameof(Of))]
public readonly struct RunHistory : IReadOnlyList<Run>
{
    /// <summary>Most free rows a buffer gets beyond the recent rows when it is (re)made: runs appended between copies while it grows, and the rows that left that a full buffer's ring keeps before writing over them.</summary>
    public const int Slack = 8;

    readonly Buffer? _recent;   // rows [_start, _end) of its ring, oldest first (row n at n modulo its length)
    readonly int _start;
    readonly int _end;
    readonly Row[]? _failed;    // older failed runs kept besides, newest first
    readonly Run? _open;        // the run in flight
    readonly Run? _openSkips;   // the record of slots skipped behind it (or behind a run not yet recorded): the newest

    /// <summary>
    /// Rows shared by the histories of one job; <see cref="Used"/> counts the rows ever written. The
    /// job's id is kept here, once per job, rather than in every history (a job's entry holds one).
    /// <see cref="Born"/> and <see cref="Appended"/> are the numbers of the table's changes that made
    /// the buffer and that wrote its newest row (see <see cref="Overwrite"/>).
    /// </summary>
    sealed class Buffer(Row[] rows, int used, Guid jobId, in Permit permit)
    {
        public readonly Row[] Rows = rows;
        public readonly Guid JobId = jobId;
        public readonly long Born = permit.Born;
        public int Used = used;
        public long Appended = permit.Number;

        /// <summary>Row <paramref name="n"/> (numbered from the buffer's first row ever written).</summary>
        public ref Row this[int n] => ref Rows[n % Rows.Length];
    }

    /// <summary>
    /// What the table tells a write about who may still hold an older history: the number of this
    /// change, the last durable change (an undo goes back to what a later change found, never to
    /// what an earlier one did), and the last change in the snapshot a compaction is writing out
    /// (<see cref="long.MaxValue"/> when none is). <see cref="Never"/> writes over no row (tests, and
    /// writers that cannot say), and keeps the next write from doing so; <see cref="Replay"/> writes
    /// over any row that left (nobody holds a history while the journal is replayed).
    /// </summary>
    /// <remarks>
    /// Why that is enough. A history shows at most <c>cap</c> recent rows, so one that shows row
    /// <c>a</c> ends at or before row <c>a + cap</c>: it was made before the change that wrote row
    /// <c>a + cap</c>. When that change is durable, no undo goes back to a history made before it;
    /// when it is in the snapshot (or the buffer is younger than the snapshot), neither does the
    /// compaction. A change may therefore write over row <c>a</c> when <c>a + cap</c> is at most the
    /// buffer's newest row and the change that wrote that row (<see cref="Buffer.Appended"/>) is both.
    /// </remarks>
    public readonly record struct Overwrite(long Number, long Durable, long Pinned)
    {
        public static Overwrite Never => new(long.MaxValue, long.MinValue, long.MinValue);
        public static Overwrite Replay => new(0, long.MaxValue, long.MaxValue);
    }

    /// <summary>Whether <paramref name="write"/> may write over rows of <paramref name="buffer"/> up to <c>cap</c> below its newest (see <see cref="Overwrite"/>).</summary>
    static bool Allows(in Overwrite write, Buffer buffer) =>
        buffer.Appended <= write.Durable && (buffer.Appended <= write.Pinned || buffer.Born > write.Pinned);

    RunHistory(Buffer? recent, int start, int end, Row[]? failed, Run? open, Run? openSkips)
    {
        _recent = recent;
        _start = start;
        _end = end;
        _failed = failed;
        _open = open;
        _openSkips = openSkips;
    }

    public static RunHistory Empty => default;

    /// <summary>A history of these runs, newest first, as given (tests, and collection expressions).</summary>
    public static RunHistory Of(ReadOnlySpan<Run> runs)
    {
        if (runs.IsEmpty) return default;
        var rows = new Row[runs.Length];
        for (var i = 0; i < rows.Length; i++) rows[rows.Length - 1 - i] = Row.Of(runs[i]);
        return new RunHistory(new Buffer(rows, rows.Length, runs[0].JobId, new Permit(null, -1, long.MaxValue)), 0, rows.Length, null, null, null);
    }

    int RecentCount => _end - _start;

    /// <summary>Recent row <paramref name="i"/>, oldest first.</summary>
    ref readonly Row Recent(int i) => ref _recent![_start + i];

    /// <summary>The recent rows, oldest first, copied into the start of <paramref name="rows"/>.</summary>
    void CopyRecent(Span<Row> rows)
    {
        if (_recent is not { } buffer || _start == _end) return;
        var length = buffer.Rows.Length;
        var from = _start % length;
        var first = Math.Min(RecentCount, length - from);
        buffer.Rows.AsSpan(from, first).CopyTo(rows);
        buffer.Rows.AsSpan(0, RecentCount - first).CopyTo(rows[first..]);
    }

    ReadOnlySpan<Row> Failed => _failed;

    int OpenCount => (_open is null ? 0 : 1) + (_openSkips is null ? 0 : 1);

    /// <summary>The open run at <paramref name="index"/> (0 is the newest), or null when that index is a row.</summary>
    Run? OpenAt(int index) => index == 0 ? _openSkips ?? _open : index == 1 && _openSkips is not null ? _open : null;

    public int Length => OpenCount + RecentCount + (_failed?.Length ?? 0);
    public int Count => Length;

    /// <summary>The run at <paramref name="index"/> (0 is the newest), made whole from its row.</summary>
    public Run this[int index]
    {
        get => OpenAt(index) ?? RowAt(index).ToRun(JobId);
    }

    /// <summary>The row at <paramref name="index"/> (0 is the newest), not the open run.</summary>
    ref readonly Row RowAt(int index)
    {
        var i = index - OpenCount;
        var recent = RecentCount;
        if ((uint)i < (uint)recent) return ref Recent(recent - 1 - i);
        return ref Failed[i - recent];
    }

    /// <summary>Run <paramref name="index"/>'s id, status and scheduled_at (UTC ticks), read without making a <see cref="Run"/> (scans).</summary>
    public (Guid RunId, RunStatus Status, long ScheduledTicks) Key(int index)
    {
        if (OpenAt(index) is { } open) return (open.RunId, open.Status, open.ScheduledAt.UtcTicks);
        ref readonly var row = ref RowAt(index);
        return (row.RunId, row.Status, row.ScheduledTicks);
    }

    /// <summary>Whether the newest run is a scheduled one still in flight (without making a <see cref="Run"/>).</summary>
    public bool NewestIsUnfinishedSchedule =>
        OpenAt(0) is { } open ? !open.IsFinished && open.Trigger == RunTrigger.Schedule
        : Length > 0 && RowAt(0) is var newest && !Run.Ended(newest.Status) && newest.Trigger == RunTrigger.Schedule;

    /// <summary>The kept run <paramref name="runId"/>, or null.</summary>
    public Run? Find(Guid runId)
    {
        if (_open?.RunId == runId) return _open;
        if (_openSkips?.RunId == runId) return _openSkips;
        var (failed, at) = Locate(runId);
        return at < 0 ? null : (failed ? ref Failed[at] : ref Recent(at)).ToRun(JobId);
    }

    /// <summary>Where row <paramref name="runId"/> is: among the older failed runs or the recent ones, and at which index; -1 when neither (the open runs are not looked at).</summary>
    (bool Failed, int Index) Locate(Guid runId)
    {
        for (var i = 0; i < RecentCount; i++)
            if (Recent(i).RunId == runId) return (false, i);
        var failed = Failed;
        for (var i = 0; i < failed.Length; i++)
            if (failed[i].RunId == runId) return (true, i);
        return (false, -1);
    }

    /// <summary>
    /// Puts <paramref name="run"/> first (or in its old place, if already there). A job keeps its
    /// <paramref name="cap"/> most recent runs and, apart from them, its <paramref name="cap"/> most
    /// recent failed runs (SPEC §5), so a failure is not pushed out by the successes after it. A
    /// record of slots skipped behind a run stays above that run, whichever of the two was written
    /// first.
    /// </summary>
    public static RunHistory Upsert(RunHistory history, Run run, int cap) => Upsert(history, run, cap, Overwrite.Never);

    /// <summary>
    /// <see cref="Upsert(RunHistory, Run, int)"/>, writing over the buffer's rows that left when
    /// <paramref name="write"/> allows it (see the type's summary).
    /// </summary>
    public static RunHistory Upsert(RunHistory history, Run run, int cap, in Overwrite write)
    {
        // Decided once, before this change writes a row: which rows no history still wanted shows.
        cap = Math.Max(cap, 1);
        var permit = history._recent is { } buffer && Allows(write, buffer)
            ? new Permit(buffer, buffer.Used - 1 - cap, write.Number)
            : new Permit(null, -1, write.Number);
        return Write(history, run, cap, permit);
    }

    /// <summary>
    /// Which buffer a change may write over rows of (null: none), and up to which row; the change's
    /// number, which the rows it writes and a buffer it makes are marked with.
    /// </summary>
    readonly record struct Permit(Buffer? Buffer, int Limit, long Number)
    {
        /// <summary>A buffer made without a number (<see cref="Overwrite.Never"/>) counts as made before any snapshot.</summary>
        public long Born => Number == long.MaxValue ? 0 : Number;
    }

    static RunHistory Write(RunHistory history, Run run, int cap, in Permit permit)
    {
        var h = history;
        // The record of the slots skipped behind the run in flight grew or closed: it keeps its place.
        if (h._openSkips?.RunId == run.RunId) return h.With(h._open, run);
        if (h._open?.RunId == run.RunId)
        {
            // The run in flight changed (retrying) or ended: its row goes where the open place was,
            // and the slots skipped behind it above (room was made for both when they opened).
            if (!run.IsFinished) return h.With(run, h._openSkips);
            return h.With(null, null).Append(Row.Of(run), run.JobId, permit).Append(h._openSkips, permit);
        }
        if (h.Locate(run.RunId) is (var inFailed, >= 0 and var at)) return h.Replaced(run, inFailed, at, permit);
        if (cap >= 2)
        {
            // Slots skipped behind the run in flight, or behind a run not yet recorded: the record
            // waits beside that run, both written again in place, until the run ends. A record still
            // waiting from an earlier series (its run ended, or was never recorded) becomes a row
            // first, with the run beneath it.
            if (run.Skips is { Blocker: var blocker } && blocker != Guid.Empty)
            {
                if (h._openSkips is not null) h = h.With(null, null).Append(h._open, permit).Append(h._openSkips, permit);
                if (h._open is null || h._open.RunId == blocker) return h.MadeRoom(cap).With(h._open, run);
            }
            // The run that a waiting record was skipped behind: it goes beneath that record.
            if (h._open is null && h._openSkips is { Skips: { } waiting } && waiting.Blocker == run.RunId)
                return run.IsFinished
                    ? h.MadeRoom(cap).With(null, null).Append(Row.Of(run), run.JobId, permit).Append(h._openSkips, permit)
                    : h.MadeRoom(cap).With(run, h._openSkips);
        }
        // Another run: the open ones become rows like any other, oldest first, below the new one.
        h = h.With(null, null).Append(h._open, permit).Append(h._openSkips, permit);
        // A new run: the recent rows make room for it, the oldest leaving (or, failed, joining the older failed).
        h = h.MadeRoom(cap);
        return run.IsFinished ? h.Append(Row.Of(run), run.JobId, permit) : h.With(run, null);
    }

    RunHistory With(Run? open, Run? openSkips) => new(_recent, _start, _end, _failed, open, openSkips);

    /// <summary>Room for one more run: the oldest recent rows leave until the recent and open ones are fewer than <paramref name="cap"/>.</summary>
    RunHistory MadeRoom(int cap)
    {
        var h = this;
        while (h._end > h._start && h._end - h._start + h.OpenCount >= cap) h = h.EvictOldest(cap);
        return h;
    }

    /// <summary>Adds <paramref name="run"/>, when there is one, as the newest recent row.</summary>
    RunHistory Append(Run? run, in Permit permit) => run is null ? this : Append(Row.Of(run), run.JobId, permit);

    /// <summary>A kept run written again (a record of skipped slots grown, a replay): its part is copied with the new row at <paramref name="at"/>.</summary>
    RunHistory Replaced(Run run, bool inFailed, int at, in Permit permit)
    {
        if (inFailed)
        {
            var failed = Failed.ToArray();
            failed[at] = Row.Of(run);
            return new RunHistory(_recent, _start, _end, failed, _open, _openSkips);
        }
        var recent = RecentCount;
        var rows = new Row[recent + Math.Min(Slack, recent)];
        CopyRecent(rows);
        rows[at] = Row.Of(run);
        return new RunHistory(new Buffer(rows, recent, run.JobId, permit), 0, recent, _failed, _open, _openSkips);
    }

    /// <summary>
    /// Adds <paramref name="row"/> as the newest recent row: in place when this history ends where
    /// the buffer's rows end and the buffer has a row never written, or one that left and that
    /// <paramref name="permit"/> lets it write over; otherwise into a copy.
    /// </summary>
    RunHistory Append(in Row row, Guid jobId, in Permit permit)
    {
        if (_recent is { } buffer && _end == buffer.Used && _end < int.MaxValue
            && (_end < buffer.Rows.Length || ReferenceEquals(buffer, permit.Buffer) && _end - buffer.Rows.Length <= permit.Limit))
        {
            // Counted before the row is written, with a full fence: a reader that read a row this
            // writes over then sees the count (see Intact).
            var n = buffer.Used;
            Interlocked.Exchange(ref buffer.Used, n + 1);
            buffer[n] = row;
            buffer.Appended = permit.Number;
            return new RunHistory(buffer, _start, _end + 1, _failed, _open, _openSkips);
        }
        var recent = RecentCount;
        // Room to grow: as much again as the rows, up to Slack (a job with one run keeps two rows, not nine).
        var rows = new Row[recent + 1 + Math.Min(Slack, recent + 1)];
        CopyRecent(rows);
        rows[recent] = row;
        return new RunHistory(new Buffer(rows, recent + 1, jobId, permit), 0, recent + 1, _failed, _open, _openSkips);
    }

    /// <summary>The oldest recent row leaves; a failed one joins the older failed runs, of which the newest <paramref name="cap"/> stay.</summary>
    RunHistory EvictOldest(int cap)
    {
        ref readonly var oldest = ref _recent![_start];
        var failed = _failed;
        if (oldest.Status == RunStatus.Failed)
        {
            var kept = Math.Min(Failed.Length, cap - 1);
            var grown = new Row[kept + 1];
            grown[0] = oldest;
            Failed[..kept].CopyTo(grown.AsSpan(1));
            failed = grown;
        }
        return new RunHistory(_recent, _start + 1, _end, failed, _open, _openSkips);
    }

    /// <summary>True when the history already holds run <paramref name="runId"/> with a final status.</summary>
    public static bool EndedBefore(RunHistory history, Guid runId)
    {
        if (history._open?.RunId == runId) return false;
        if (history._openSkips?.RunId == runId) return history._openSkips.IsFinished;
        var (failed, at) = history.Locate(runId);
        return at >= 0 && Run.Ended((failed ? ref history.Failed[at] : ref history.Recent(at)).Status);
    }

    /// <summary>
    /// Whether every row this history shows is still the row it showed: false once the job has
    /// written over the oldest of them (a ring's rows beyond the recent ones are few, see the
    /// summary). Read after the rows: what was read before it is then known to be whole. A reader
    /// that may be slow, such as an API answer, reads through <see cref="JobEntry.ReadRuns"/>, which
    /// reads again from the job's newer history when this is false.
    /// </summary>
    public bool Intact
    {
        get
        {
            if (_recent is not { } buffer) return true;
            // The rows were read before the count is (the writer counts before it writes over a row).
            Interlocked.MemoryBarrier();
            return Volatile.Read(ref buffer.Used) <= (long)_start + buffer.Rows.Length;
        }
    }

    /// <summary>A history of the newest run alone, in rows of its own (empty when there is none): what a job's view shows.</summary>
    public RunHistory Newest => Length == 0 ? default : Of([this[0]]);

    /// <summary>The id of the job these runs belong to (Guid.Empty for an empty history).</summary>
    public Guid JobId => _recent?.JobId ?? _open?.JobId ?? _openSkips?.JobId ?? Guid.Empty;

    /// <summary>
    /// Writes run <paramref name="index"/>'s journal record (as <see cref="Records.RunCodec.Write"/>
    /// does, without nulls). A plain row is written from its fields: a compaction writes every kept
    /// run of every job, and a <see cref="Run"/> made for each was most of what it allocated.
    /// </summary>
    public void WriteRecord<TOut>(int index, ref TOut w) where TOut : Records.IJsonOut, allows ref struct
    {
        if (OpenAt(index) is not null || !RowAt(index).TryWrite(ref w, JobId)) Records.RunCodec.Write(ref w, this[index], withNulls: false);
    }

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
    /// One kept run, 48 bytes. <see cref="_ref"/> is null for a plain run, which the row says whole:
    /// at most one attempt, with a status code, no error, no response body, never replayed, its times
    /// whole milliseconds within 24 days of the slot. A record of skipped slots keeps its
    /// <see cref="SkipSeries"/> there (its text is made again when it is read). Any other run is kept
    /// there itself, and only <see cref="RunId"/>, <see cref="Status"/>, <see cref="Trigger"/> and
    /// <see cref="ScheduledTicks"/> are read from the row. Times are UTC.
    /// </summary>
    readonly struct Row
    {
        const int None = int.MinValue; // no finish, or no attempt

        public readonly Guid RunId;
        readonly long _scheduledTicks;
        readonly object? _ref;       // the Run itself, its SkipSeries, or null (plain)
        readonly int _finishedMs;    // finished_at − scheduled_at; None: not finished
        readonly int _startedMs;     // plain: the attempt's start − scheduled_at; None: no attempt
        readonly int _durationMs;    // plain: the attempt's duration
        readonly ushort _statusCode; // plain: the attempt's status code
        readonly byte _status;
        readonly byte _trigger;

        public RunStatus Status => (RunStatus)_status;
        public RunTrigger Trigger => (RunTrigger)_trigger;
        public long ScheduledTicks => _scheduledTicks;

        Row(Run run, object? reference)
        {
            RunId = run.RunId;
            _scheduledTicks = run.ScheduledAt.UtcTicks;
            _status = (byte)run.Status;
            _trigger = (byte)run.Trigger;
            _ref = reference;
            _finishedMs = None;
            _startedMs = None;
            if (reference is Run) return;
            if (run.FinishedAt is { } finished) _finishedMs = (int)MsAfter(finished, _scheduledTicks)!;
            if (run.Attempts is [var attempt])
            {
                _startedMs = (int)MsAfter(attempt.StartedAt, _scheduledTicks)!;
                _durationMs = (int)attempt.DurationMs;
                _statusCode = (ushort)attempt.StatusCode!.Value;
            }
        }

        public static Row Of(Run run) =>
            SkipShape(run) ? new(run, run.Skips)
            : PlainShape(run) ? new(run, null)
            : new(run, run);

        /// <summary>Whole milliseconds from <paramref name="fromTicks"/> to a UTC time, when a row can hold them; null otherwise.</summary>
        static long? MsAfter(DateTimeOffset time, long fromTicks)
        {
            if (time.Offset != TimeSpan.Zero) return null;
            var ticks = time.UtcTicks - fromTicks;
            if (ticks % TimeSpan.TicksPerMillisecond != 0) return null;
            var ms = ticks / TimeSpan.TicksPerMillisecond;
            return ms is > None and <= int.MaxValue ? ms : null;
        }

        static bool FinishFits(Run run) =>
            run.ScheduledAt.Offset == TimeSpan.Zero
            && (run.FinishedAt is not { } finished || MsAfter(finished, run.ScheduledAt.UtcTicks) is not null);

        /// <summary>Whether a row alone can say everything about the run.</summary>
        static bool PlainShape(Run run)
        {
            if (run.Replays != 0 || run.Error is not null || run.Skips is not null || !FinishFits(run)) return false;
            return run.Attempts switch
            {
                [] => true,
                [var a] => a is { Number: 1, Error: null, Response: null, StatusCode: >= 0 and <= ushort.MaxValue, DurationMs: >= 0 and <= int.MaxValue }
                           && MsAfter(a.StartedAt, run.ScheduledAt.UtcTicks) is not null,
                _ => false,
            };
        }

        /// <summary>Whether the run is a record of skipped slots that its <see cref="SkipSeries"/> and the row can say whole.</summary>
        static bool SkipShape(Run run) =>
            run.Skips is { } skips && run.Status == RunStatus.Skipped && run.Trigger == RunTrigger.Schedule
            && run.Replays == 0 && run.Attempts.Length == 0 && skips.First == run.ScheduledAt && FinishFits(run);

        /// <summary>The row's slot; its finish and its one attempt are held as milliseconds from it.</summary>
        DateTimeOffset Scheduled => new(_scheduledTicks, TimeSpan.Zero);
        DateTimeOffset? Finished => _finishedMs == None ? null : Scheduled.AddMilliseconds(_finishedMs);
        Attempt? OnlyAttempt => _startedMs == None ? null : new Attempt(1, Scheduled.AddMilliseconds(_startedMs), _durationMs, _statusCode, null);

        /// <summary>Writes the run's journal record from the row alone, for a plain row or a record of skipped slots; false for any other.</summary>
        public bool TryWrite<TOut>(ref TOut w, Guid jobId) where TOut : Records.IJsonOut, allows ref struct
        {
            if (_ref is null) Records.RunCodec.WritePlain(ref w, RunId, jobId, Trigger, Status, Scheduled, Finished, OnlyAttempt);
            else if (_ref is SkipSeries skips) Records.RunCodec.WriteSkipped(ref w, RunId, jobId, skips, Finished ?? Scheduled);
            else return false;
            return true;
        }

        public Run ToRun(Guid jobId)
        {
            if (_ref is Run full) return full;
            if (_ref is SkipSeries skips) return Run.Skipped(RunId, jobId, skips, Finished ?? Scheduled);
            Attempt[] attempts = OnlyAttempt is { } attempt ? [attempt] : [];
            return new Run(RunId, jobId, Trigger, Status, Scheduled, Finished, attempts, null);
        }
    }
}
