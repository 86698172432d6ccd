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
        };
        // Plain runs and skip records are rows alone (a read makes a new Run); the others keep theirs.
        bool[] alone = [true, false, true, true, false, false, false, false, false, true, true, true, false];
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
}
