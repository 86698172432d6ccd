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

    /// <summary>The history as it was, a list newest first, written by copying (the model the rows must match).</summary>
    static List<Run> ModelUpsert(List<Run> runs, Run run, int cap)
    {
        var at = runs.FindIndex(r => r.RunId == run.RunId);
        if (at >= 0)
        {
            var copy = new List<Run>(runs) { [at] = run };
            return copy;
        }
        var kept = new List<Run> { run };
        var olderFailed = 0;
        for (var i = 0; i < runs.Count; i++)
            if (i + 1 < cap || (runs[i].Status == RunStatus.Failed && olderFailed++ < cap)) kept.Add(runs[i]);
        return kept;
    }

    static string Show(IEnumerable<Run> runs) => string.Join(" ", runs.Select(r => $"{r.RunId.ToString()[..4]}:{r.Status}:{r.Skips?.Count}"));

    [Test]
    [Arguments(1)]
    [Arguments(2)]
    [Arguments(3)]
    [Arguments(5)]
    [Arguments(20)]
    public async Task Rows_written_in_place_read_as_the_copying_history_did_and_old_histories_never_change(int cap)
    {
        var random = new Random(cap * 7919);
        for (var round = 0; round < 40; round++)
        {
            var history = RunHistory.Empty;
            var model = new List<Run>();
            var kept = new List<(RunHistory History, string Seen)>();
            Run? open = null;
            Run? skips = null;
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
                else if (roll < 10 && model.Take(cap).FirstOrDefault(r => r.Status == RunStatus.Failed) is { } failed)
                    // A failed run among the newest, delivered again: it is in flight in its old place.
                    run = open = failed with { Status = RunStatus.Running, Replays = failed.Replays + 1 };
                else if (roll < 20)
                    run = random.Next(2) == 0 ? Plain(second) : Plain(second, RunStatus.Failed, 500);
                else
                    run = open = new Run(Guid.NewGuid(), JobId, RunTrigger.Schedule, RunStatus.Running, T0.AddSeconds(second), null, [], null);

                history = RunHistory.Upsert(history, run, cap);
                model = ModelUpsert(model, run, cap);
                await Assert.That(Show(history)).IsEqualTo(Show(model)).Because($"cap {cap}, round {round}, step {step}");
                await Assert.That(history.Length).IsEqualTo(model.Count);
                for (var i = 0; i < model.Count; i++)
                {
                    await Assert.That(history.Key(i)).IsEqualTo((model[i].RunId, model[i].Status, model[i].ScheduledAt.UtcTicks));
                    await Assert.That(RunHistory.EndedBefore(history, model[i].RunId)).IsEqualTo(model[i].IsFinished);
                }
                await Assert.That(history.NewestIsUnfinishedSchedule)
                    .IsEqualTo(model.Count > 0 && !model[0].IsFinished && model[0].Trigger == RunTrigger.Schedule);
                if (random.Next(10) == 0) kept.Add((history, Show(history)));
                if (random.Next(25) == 0 && kept.Count > 0 && open is null)
                {
                    // An undo: writing goes on from an older history, which must not disturb the newer ones kept.
                    var (older, seen) = kept[random.Next(kept.Count)];
                    if (!older.Any(r => !r.IsFinished))
                    {
                        history = older;
                        model = [.. older];
                        await Assert.That(Show(history)).IsEqualTo(seen);
                    }
                }
            }
            foreach (var (older, seen) in kept)
                await Assert.That(Show(older)).IsEqualTo(seen).Because("a history is never changed by a later write");
        }
    }
}
