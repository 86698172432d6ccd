using Ksana.Scheduling;

namespace Ksana.Tests.Unit;

/// <summary>A job's kept runs as compact rows (SPEC §5 retention): every run reads back whole, plain or not.</summary>
public class RunHistoryTests
{
    static readonly Guid JobId = Guid.NewGuid();
    static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    static Run Plain(int second, RunStatus status = RunStatus.Succeeded, int code = 204) =>
        new(Guid.NewGuid(), JobId, RunTrigger.Schedule, status, T0.AddSeconds(second), T0.AddSeconds(second).AddMilliseconds(3),
            [new Attempt(1, T0.AddSeconds(second).AddMilliseconds(1), 2, code, null)], null);

    static async Task ReadsBackAs(Run read, Run written)
    {
        await Assert.That(read.RunId).IsEqualTo(written.RunId);
        await Assert.That(read.JobId).IsEqualTo(written.JobId);
        await Assert.That(read.Trigger).IsEqualTo(written.Trigger);
        await Assert.That(read.Status).IsEqualTo(written.Status);
        await Assert.That(read.ScheduledAt).IsEqualTo(written.ScheduledAt);
        await Assert.That(read.FinishedAt).IsEqualTo(written.FinishedAt);
        await Assert.That(read.Error).IsEqualTo(written.Error);
        await Assert.That(read.Replays).IsEqualTo(written.Replays);
        await Assert.That(read.Attempts.Length).IsEqualTo(written.Attempts.Length);
        for (var i = 0; i < read.Attempts.Length; i++)
            await Assert.That(read.Attempts[i]).IsEqualTo(written.Attempts[i]);
    }

    [Test]
    public async Task Every_kind_of_run_reads_back_whole()
    {
        var runs = new[]
        {
            Plain(1),
            Plain(2, code: 500, status: RunStatus.Failed) with { Error = "HTTP 500" },
            new Run(Guid.NewGuid(), JobId, RunTrigger.Manual, RunStatus.Running, T0, null, [], null),
            new Run(Guid.NewGuid(), JobId, RunTrigger.Schedule, RunStatus.Skipped, T0.AddSeconds(3), T0.AddSeconds(3), [], null),
            Plain(4) with { Attempts = [new Attempt(1, T0.AddSeconds(4), 5, 200, null, "ok")] },
            Plain(5) with { Replays = 2 },
            Plain(6) with
            {
                Attempts = [new Attempt(1, T0.AddSeconds(6), 5, 503, "HTTP 503"), new Attempt(2, T0.AddSeconds(7), 1, 204, null)],
            },
            Plain(8) with { ScheduledAt = new DateTimeOffset(2026, 3, 1, 13, 0, 8, TimeSpan.FromHours(1)) },
            new Run(Guid.NewGuid(), JobId, RunTrigger.Schedule, RunStatus.Failed, T0.AddSeconds(9), T0.AddSeconds(40),
                [new Attempt(1, T0.AddSeconds(9), 30_000, null, "timeout after 30 s")], "timeout after 30 s"),
            Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(1, T0.AddSeconds(10), T0.AddSeconds(10), Guid.NewGuid()), T0.AddSeconds(10.5)),
            Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(7, T0.AddSeconds(11), T0.AddSeconds(17), Guid.NewGuid()), T0.AddSeconds(18)),
            Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(1, T0.AddSeconds(19), T0.AddSeconds(19), Guid.Empty), T0.AddSeconds(19)),
            Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(100_000, T0.AddSeconds(20), T0.AddDays(2), Guid.NewGuid()), T0.AddDays(2)),
            // Times a row cannot hold as whole milliseconds within 24 days of the slot: the run is kept whole.
            Plain(21) with { FinishedAt = T0.AddDays(30) },
            Plain(22) with { FinishedAt = T0.AddSeconds(22).AddTicks(5) },
            Plain(23) with { Attempts = [new Attempt(1, T0.AddSeconds(23).AddTicks(1), 2, 204, null)] },
            Plain(24) with { Attempts = [new Attempt(1, T0.AddSeconds(24).AddDays(-25), 2, 204, null)] },
        };
        // Plain runs and skip records are rows (a read makes a new Run); the others keep theirs.
        bool[] alone = [true, false, true, true, false, false, false, false, false, true, true, true, true, false, false, false, false];
        await Assert.That(runs.Length).IsEqualTo(alone.Length);
        var history = RunHistory.Empty;
        foreach (var run in runs) history = RunHistory.Upsert(history, run, 20);
        await Assert.That(history.Length).IsEqualTo(runs.Length);
        for (var i = 0; i < runs.Length; i++)
        {
            await ReadsBackAs(history[runs.Length - 1 - i], runs[i]);
            await Assert.That(ReferenceEquals(history[runs.Length - 1 - i], runs[i])).IsEqualTo(!alone[i]).Because($"run {i}");
            await Assert.That(history.Find(runs[i].RunId)!.RunId).IsEqualTo(runs[i].RunId);
            var key = history.Key(runs.Length - 1 - i);
            await Assert.That(key).IsEqualTo((runs[i].RunId, runs[i].Status, runs[i].ScheduledAt.UtcTicks));
        }
        await Assert.That(history.Find(Guid.NewGuid())).IsNull();
    }

    [Test]
    public async Task A_compaction_writes_every_kept_run_as_the_journal_wrote_it()
    {
        // Rows are written from their fields; the line must be byte for byte the one the run itself makes.
        var runs = new List<Run>
        {
            Plain(1), Plain(2, RunStatus.Failed, 500), Plain(3) with { Attempts = [] },
            Plain(4) with { Attempts = [new Attempt(1, T0.AddSeconds(4), 5, 200, null, "ok")] }, Plain(5) with { Replays = 1 },
            Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(3, T0.AddSeconds(6), T0.AddSeconds(8), Guid.NewGuid()), T0.AddSeconds(9)),
            Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(1, T0.AddSeconds(9), T0.AddSeconds(9), Guid.Empty), T0.AddSeconds(9).AddMilliseconds(2)),
            new(Guid.NewGuid(), JobId, RunTrigger.Manual, RunStatus.Succeeded, T0.AddSeconds(10), T0.AddSeconds(10).AddMilliseconds(4),
                [new Attempt(1, T0.AddSeconds(10).AddMilliseconds(1), 3, 204, null)], null),
        };
        var history = RunHistory.Empty;
        foreach (var run in runs) history = RunHistory.Upsert(history, run, 20);
        var running = new Run(Guid.NewGuid(), JobId, RunTrigger.Schedule, RunStatus.Running, T0.AddSeconds(11), null, [], null);
        history = RunHistory.Upsert(history, running, 20);
        history = RunHistory.Upsert(history, Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(1, T0.AddSeconds(12), T0.AddSeconds(12), running.RunId), T0.AddSeconds(12)), 20);
        var encoder = new Ksana.Storage.LineEncoder();
        for (var i = 0; i < history.Length; i++)
        {
            var fromRow = new System.Buffers.ArrayBufferWriter<byte>();
            var fromRun = new System.Buffers.ArrayBufferWriter<byte>();
            encoder.Write(fromRow, 7, Change.Kept(history, i));
            encoder.Write(fromRun, 7, Change.Recorded(history[i]));
            await Assert.That(System.Text.Encoding.UTF8.GetString(fromRow.WrittenSpan)).IsEqualTo(System.Text.Encoding.UTF8.GetString(fromRun.WrittenSpan)).Because($"run {i}");
            await Assert.That(Change.Kept(history, i).JobId).IsEqualTo(JobId);
        }
    }

    [Test]
    public async Task A_run_written_again_keeps_its_place_and_the_old_history_is_unchanged()
    {
        var first = Plain(1);
        var running = new Run(Guid.NewGuid(), JobId, RunTrigger.Schedule, RunStatus.Running, T0.AddSeconds(2), null, [], null);
        var before = RunHistory.Upsert(RunHistory.Upsert(RunHistory.Empty, first, 20), running, 20);
        await Assert.That(before.NewestIsUnfinishedSchedule).IsTrue();
        await Assert.That(RunHistory.EndedBefore(before, running.RunId)).IsFalse();

        var ended = Plain(2) with { RunId = running.RunId };
        var after = RunHistory.Upsert(before, ended, 20);
        await Assert.That(after.Length).IsEqualTo(2);
        await ReadsBackAs(after[0], ended);
        await ReadsBackAs(after[1], first);
        await Assert.That(after.NewestIsUnfinishedSchedule).IsFalse();
        await Assert.That(RunHistory.EndedBefore(after, running.RunId)).IsTrue();
        // An undo or a snapshot holding the earlier history still sees the run in flight.
        await ReadsBackAs(before[0], running);
    }

    [Test]
    public async Task The_newest_runs_are_kept_and_failures_apart_from_them()
    {
        const int cap = 3;
        var history = RunHistory.Empty;
        var failed = new List<Run>();
        for (var i = 0; i < 10; i++)
        {
            var run = i % 2 == 0 ? Plain(i, RunStatus.Failed, 500) : Plain(i);
            if (run.Status == RunStatus.Failed) failed.Add(run);
            history = RunHistory.Upsert(history, run, cap);
        }
        // The 3 newest (seconds 9, 8, 7), then the 3 newest failed of the rest (6, 4, 2).
        await Assert.That(string.Join(",", history.Select(r => r.ScheduledAt.Second))).IsEqualTo("9,8,7,6,4,2");
        await Assert.That(history.Count(r => r.Status == RunStatus.Failed)).IsEqualTo(4);
    }

    /// <summary>
    /// The history as a list newest first, written by copying (the model the rows must match): a new
    /// run goes first, except beneath a record of slots skipped behind it (when two are kept).
    /// </summary>
    static List<Run> ModelUpsert(List<Run> runs, Run run, int cap)
    {
        var at = runs.FindIndex(r => r.RunId == run.RunId);
        if (at >= 0)
        {
            var copy = new List<Run>(runs) { [at] = run };
            return copy;
        }
        var beneath = cap >= 2 && runs is [{ Skips.Blocker: var blocker }, ..] && blocker == run.RunId;
        var kept = beneath ? new List<Run> { runs[0], run } : [run];
        var olderFailed = 0;
        for (var i = beneath ? 1 : 0; i < runs.Count; i++)
            if (i + 1 < cap || (runs[i].Status == RunStatus.Failed && olderFailed++ < cap)) kept.Add(runs[i]);
        return kept;
    }

    static string Show(IEnumerable<Run> runs) => string.Join(" ", runs.Select(r => $"{r.RunId.ToString()[..4]}:{r.Status}:{r.Skips?.Count}"));

    /// <summary>
    /// Random runs of one job, against a list written by copying. Without a ring every history ever
    /// made must stay as it was. With one (<paramref name="ring"/>) rows that left are written over,
    /// and the histories that must stay are those the table could still hand back or write out:
    /// the one an undo goes back to (made by the last durable change or after it) and the one a
    /// compaction in progress holds. Durability lags a few changes behind, and compactions come and go.
    /// </summary>
    [Test]
    [MatrixDataSource]
    public async Task Rows_written_in_place_read_as_the_copying_history_did_and_old_histories_never_change(
        [Matrix(1, 2, 3, 5, 20)] int cap, [Matrix(false, true)] bool ring)
    {
        var random = new Random(cap * 7919 + (ring ? 1 : 0));
        for (var round = 0; round < 40; round++)
        {
            var history = RunHistory.Empty;
            var model = new List<Run>();
            // Every history kept for a look later, with the number of the change that made it.
            var kept = new List<(RunHistory History, string Seen, long Made)>();
            long number = 0, durable = 0, pinned = long.MaxValue;
            (RunHistory History, string Seen)? snapshot = null;
            Run? open = null;
            Run? skips = null;
            Guid? pending = null; // a run that slots were skipped behind before its first record
            var second = 0;
            for (var step = 0; step < 300; step++)
            {
                second++;
                Run run;
                var roll = random.Next(100);
                if (open is not null && roll < 15)
                {
                    // Slots skipped behind the run in flight: one record, written again as it grows.
                    run = skips is { } s && random.Next(2) == 0
                        ? Run.Skipped(s.RunId, JobId, new SkipSeries(s.Skips!.Count + 1, s.Skips.First, T0.AddSeconds(second), open.RunId), T0.AddSeconds(second))
                        : Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(1, T0.AddSeconds(second), T0.AddSeconds(second), open.RunId), T0.AddSeconds(second));
                    skips = run;
                }
                else if (open is not null && roll < 30)
                    run = open = open with { Status = RunStatus.Retrying };
                else if (open is not null)
                {
                    run = random.Next(3) == 0
                        ? open with { Status = RunStatus.Failed, FinishedAt = T0.AddSeconds(second), Error = "HTTP 500" }
                        : Plain(second) with { RunId = open.RunId, ScheduledAt = open.ScheduledAt };
                    open = null;
                    skips = null;
                }
                else if (pending is { } behind && roll < 40)
                    // Another slot skipped behind a run still waiting to start: the same record grows.
                    run = skips = Run.Skipped(skips!.RunId, JobId, new SkipSeries(skips.Skips!.Count + 1, skips.Skips.First, T0.AddSeconds(second), behind), T0.AddSeconds(second));
                else if (pending is { } starting)
                {
                    // The run those slots were skipped behind starts: its first record comes after theirs.
                    run = open = new Run(starting, JobId, RunTrigger.Schedule, RunStatus.Running, T0.AddSeconds(second), null, [], null);
                    pending = null;
                }
                else if (roll < 8)
                {
                    pending = Guid.NewGuid();
                    run = skips = Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(1, T0.AddSeconds(second), T0.AddSeconds(second), pending.Value), T0.AddSeconds(second));
                }
                else if (roll < 10 && model.Take(cap).FirstOrDefault(r => r.Status == RunStatus.Failed) is { } failed)
                    // A failed run among the newest, delivered again: it is in flight in its old place.
                    run = open = failed with { Status = RunStatus.Running, Replays = failed.Replays + 1 };
                else if (roll < 20)
                    run = random.Next(2) == 0 ? Plain(second) : Plain(second, RunStatus.Failed, 500);
                else
                    run = open = new Run(Guid.NewGuid(), JobId, RunTrigger.Schedule, RunStatus.Running, T0.AddSeconds(second), null, [], null);

                number++;
                // The journal makes changes durable a few at a time, and now and then a compaction
                // takes a snapshot of the table (here the history as it is before this change).
                durable = Math.Max(durable, number - 1 - random.Next(4));
                if (ring && snapshot is null && random.Next(30) == 0)
                {
                    snapshot = (history, Show(history));
                    pinned = number - 1;
                }
                history = ring
                    ? RunHistory.Upsert(history, run, cap, new RunHistory.Overwrite(number, durable, pinned))
                    : RunHistory.Upsert(history, run, cap);
                model = ModelUpsert(model, run, cap);
                if (snapshot is { } held && random.Next(10) == 0)
                {
                    await Assert.That(Show(held.History)).IsEqualTo(held.Seen).Because("a snapshot is not written over until it is written out");
                    snapshot = null;
                    pinned = long.MaxValue;
                }
                await Assert.That(Show(history)).IsEqualTo(Show(model)).Because($"cap {cap}, round {round}, step {step}");
                await Assert.That(history.Length).IsEqualTo(model.Count);
                for (var i = 0; i < model.Count; i++)
                {
                    await Assert.That(history.Key(i)).IsEqualTo((model[i].RunId, model[i].Status, model[i].ScheduledAt.UtcTicks));
                    await Assert.That(RunHistory.EndedBefore(history, model[i].RunId)).IsEqualTo(model[i].IsFinished);
                }
                await Assert.That(history.NewestIsUnfinishedSchedule)
                    .IsEqualTo(model.Count > 0 && !model[0].IsFinished && model[0].Trigger == RunTrigger.Schedule);
                if (random.Next(10) == 0) kept.Add((history, Show(history), number));
                // With a ring, only what an undo can go back to must stay: the rest is forgotten.
                if (ring)
                {
                    kept.RemoveAll(k => k.Made < durable);
                    foreach (var (older, seen, _) in kept)
                        await Assert.That(Show(older)).IsEqualTo(seen).Because("a history an undo can go back to is never changed by a later write");
                }
                if (random.Next(25) == 0 && kept.Count > 0 && open is null && pending is null)
                {
                    // An undo: writing goes on from an older history, which must not disturb the newer ones kept.
                    var (older, seen, _) = kept[random.Next(kept.Count)];
                    if (!older.Any(r => !r.IsFinished))
                    {
                        history = older;
                        model = [.. older];
                        await Assert.That(Show(history)).IsEqualTo(seen);
                    }
                }
            }
            foreach (var (older, seen, _) in kept)
                await Assert.That(Show(older)).IsEqualTo(seen).Because("a history is never changed by a later write");
            if (snapshot is { } last) await Assert.That(Show(last.History)).IsEqualTo(last.Seen);
        }
    }

    /// <summary>
    /// Issue 9: a run leaves nothing that lives until the job's next run. Once a job's buffer is a
    /// ring, rows are written over the ones that left and the history makes no array; written by
    /// copying (nothing may be written over), it makes one every <see cref="RunHistory.Slack"/> runs.
    /// </summary>
    [Test]
    public async Task A_full_history_writes_its_rows_over_those_that_left_without_allocating()
    {
        var runs = Enumerable.Range(0, 1_100).Select(i => Plain(i)).ToArray();
        long Allocated(bool overwrite)
        {
            var history = RunHistory.Empty;
            long number = 0, before = 0;
            foreach (var run in runs)
            {
                if (++number == 101) before = GC.GetAllocatedBytesForCurrentThread();
                // Every earlier change is durable and no compaction is running.
                history = overwrite
                    ? RunHistory.Upsert(history, run, 20, new RunHistory.Overwrite(number, number - 1, long.MaxValue))
                    : RunHistory.Upsert(history, run, 20);
            }
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (string.Join(",", history.Take(3).Select(r => r.ScheduledAt.ToUnixTimeSeconds() - T0.ToUnixTimeSeconds())) != "1099,1098,1097")
                throw new InvalidOperationException("the newest runs are not first");
            return allocated;
        }
        // 1,000 runs each way, after the first 100 have made the buffer full.
        await Assert.That(Allocated(overwrite: true)).IsLessThan(1_000);
        await Assert.That(Allocated(overwrite: false)).IsGreaterThan(100_000);
    }

    /// <summary>
    /// A ring keeps only a few rows beyond the recent ones, so a reader that held a history while
    /// its job wrote on could read a row written over. <see cref="RunHistory.Intact"/> says so,
    /// exactly: true while every row it shows is the row it showed, false from the write over its
    /// oldest.
    /// </summary>
    [Test]
    public async Task A_history_is_intact_until_its_job_writes_over_a_row_it_shows()
    {
        var history = RunHistory.Empty;
        long number = 0;
        RunHistory Write(int second) =>
            history = RunHistory.Upsert(history, Plain(second), 20, new RunHistory.Overwrite(++number, number - 1, long.MaxValue));
        for (var i = 0; i < 100; i++) Write(i);
        var held = history;
        var shown = held.Select(r => r.RunId).ToArray();
        await Assert.That(shown.Length).IsEqualTo(20);
        var intactWrites = 0;
        for (var i = 100; i < 140; i++)
        {
            Write(i);
            var same = held.Select(r => r.RunId).SequenceEqual(shown);
            await Assert.That(held.Intact).IsEqualTo(same).Because($"after {i - 99} writes");
            if (!same) break;
            intactWrites++;
        }
        // The ring's rows beyond the recent ones: written first, before any row the held history shows.
        await Assert.That(intactWrites).IsGreaterThanOrEqualTo(1).And.IsLessThan(40);
        await Assert.That(history.Intact).IsTrue();
    }

    static Run Running(Guid id, int second) => new(id, JobId, RunTrigger.Schedule, RunStatus.Running, T0.AddSeconds(second), null, [], null);

    static Run Skips(Guid recordId, Guid blocker, int first, int last) =>
        Run.Skipped(recordId, JobId, new SkipSeries(last - first + 1, T0.AddSeconds(first), T0.AddSeconds(last), blocker), T0.AddSeconds(last));

    /// <summary>Upserts <paramref name="runs"/> in order and returns the bytes this thread allocated meanwhile.</summary>
    static long Allocated(ref RunHistory history, params Run[] runs)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var run in runs) history = RunHistory.Upsert(history, run, 20);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Test]
    [Arguments(true)]
    [Arguments(false)]
    public async Task Slots_skipped_behind_a_run_stay_above_it_and_their_records_are_written_again_without_a_copy(bool runRecordedFirst)
    {
        // Under overload a run waits for a worker, so its first record may come after the series skipped behind it opened.
        var history = RunHistory.Empty;
        for (var i = 0; i < 3; i++) history = RunHistory.Upsert(history, Plain(i), 20);
        var run = Guid.NewGuid();
        var series = Guid.NewGuid();
        Run[] opening = runRecordedFirst ? [Running(run, 10), Skips(series, run, 11, 11)] : [Skips(series, run, 11, 11), Running(run, 10)];
        foreach (var r in opening) history = RunHistory.Upsert(history, r, 20);
        var ended = Plain(10) with { RunId = run };
        var closed = Skips(series, run, 11, 14);
        await Assert.That(string.Join(",", history.Select(r => r.ScheduledAt.Second))).IsEqualTo("11,10,2,1,0");
        await Assert.That(history.NewestIsUnfinishedSchedule).IsFalse();
        await Assert.That(RunHistory.EndedBefore(history, run)).IsFalse();
        await Assert.That(RunHistory.EndedBefore(history, series)).IsTrue();
        var open = history;

        // The series closes and the run ends (the runner's order): neither rewrites the rows.
        var bytes = Allocated(ref history, closed, ended);
        await Assert.That(bytes).IsEqualTo(0L);
        await Assert.That(history.Length).IsEqualTo(5);
        await ReadsBackAs(history[0], closed);
        await ReadsBackAs(history[1], ended);
        await Assert.That(history.Find(series)!.Skips).IsEqualTo(closed.Skips);
        // The history as it was while the run was in flight is unchanged.
        await Assert.That(open[0].Skips!.Count).IsEqualTo(1);
        await Assert.That(open[1].Status).IsEqualTo(RunStatus.Running);

        // The next run goes above both, which are rows now.
        var next = Running(Guid.NewGuid(), 15);
        history = RunHistory.Upsert(history, next, 20);
        await Assert.That(history.Key(0).RunId).IsEqualTo(next.RunId);
        await Assert.That(history.Key(1).RunId).IsEqualTo(series);
        await Assert.That(history.Key(2).RunId).IsEqualTo(run);
    }

    [Test]
    public async Task The_runs_kept_count_the_open_ones()
    {
        const int cap = 3;
        var history = RunHistory.Empty;
        for (var i = 0; i < 5; i++) history = RunHistory.Upsert(history, Plain(i), cap);
        var run = Guid.NewGuid();
        history = RunHistory.Upsert(history, Running(run, 10), cap);
        history = RunHistory.Upsert(history, Skips(Guid.NewGuid(), run, 11, 11), cap);
        await Assert.That(string.Join(",", history.Select(r => r.ScheduledAt.Second))).IsEqualTo("11,10,4");
        history = RunHistory.Upsert(history, Plain(10) with { RunId = run }, cap);
        await Assert.That(string.Join(",", history.Select(r => r.ScheduledAt.Second))).IsEqualTo("11,10,4");
        history = RunHistory.Upsert(history, Plain(20), cap);
        await Assert.That(string.Join(",", history.Select(r => r.ScheduledAt.Second))).IsEqualTo("20,11,10");
    }

    [Test]
    public async Task A_record_of_skipped_slots_says_how_many_slots_when_and_behind_which_run()
    {
        var blocker = Guid.Parse("0123456789abcdef0123456789abcdef");
        await Assert.That(new SkipSeries(1, T0, T0, blocker).Text())
            .IsEqualTo("skipped: the previous run 0123456789abcdef0123456789abcdef was still in flight");
        await Assert.That(new SkipSeries(1, T0, T0, Guid.Empty).Text()).IsEqualTo("skipped: the previous run was still in flight");
        await Assert.That(new SkipSeries(int.MaxValue, T0.AddTicks(1), DateTimeOffset.MaxValue, blocker).Text())
            .IsEqualTo("2147483647 slots skipped, 2026-03-01T12:00:00.0000001Z to 9999-12-31T23:59:59.9999999Z: the previous run 0123456789abcdef0123456789abcdef was still in flight");
        await Assert.That(new SkipSeries(7, T0.AddMilliseconds(250), T0.AddSeconds(6), Guid.Empty).Text())
            .IsEqualTo("7 slots skipped, 2026-03-01T12:00:00.25Z to 2026-03-01T12:00:06Z: the previous run was still in flight");
    }

    [Test]
    public async Task A_record_of_skipped_slots_read_from_its_text_is_the_series_it_was_written_from()
    {
        SkipSeries[] written =
        [
            new(1, T0, T0, Guid.NewGuid()),
            new(1, T0, T0, Guid.Empty),
            new(7, T0, T0.AddSeconds(6), Guid.NewGuid()),
            new(100_000, T0.AddMilliseconds(250), T0.AddDays(2).AddMilliseconds(1), Guid.Empty),
        ];
        foreach (var series in written)
            await Assert.That(SkipSeries.Parse(series.Text(), series.First)).IsEqualTo(series);
        // Only a text Ksana itself writes, exactly, for a record scheduled at that slot.
        var named = written[2];
        string[] others =
        [
            "skipped", "skipped: the previous run was still in flight!", "skipped: the previous run 12 was still in flight",
            named.Text().Replace("7 slots", "07 slots"), named.Text().Replace("7 slots", "-7 slots"), named.Text() + " ",
            named.Text().Replace("Z to", "+00:00 to"), "HTTP 500",
        ];
        foreach (var text in others) await Assert.That(SkipSeries.Parse(text, named.First)).IsNull().Because(text);
        await Assert.That(SkipSeries.Parse(named.Text(), named.First.AddSeconds(1))).IsNull();
    }
}
