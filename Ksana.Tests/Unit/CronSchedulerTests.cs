using Ksana.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace Ksana.Tests.Unit;

/// <summary>
/// Cron jobs and the schedule options of SPEC §2 and §7 on a fake clock: daylight saving time in
/// both directions, catch_up after a restart and on resume, start_at/end_at, stable jitter.
/// </summary>
public class CronSchedulerTests
{
    static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
    static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);
    static TimeSpan M(double minutes) => TimeSpan.FromMinutes(minutes);
    static Duration D(TimeSpan t) => Duration.FromTimeSpan(t);

    static DateTimeOffset[] Times(params string[] utc) => utc.Select(At).ToArray();

    [Test]
    public async Task A_daily_job_in_Berlin_fires_once_a_day_through_both_clock_changes()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Path, new FakeTimeProvider(At("2030-03-29T12:00:00Z")));
        var job = await rig.CreateAsync(Rig.Cron("30 2 * * *", "Europe/Berlin"));
        await rig.AdvanceAsync(TimeSpan.FromDays(3), M(1));
        // 02:30 CET, then 02:30 in the gap of 31 March fires at 03:00 CEST, then 02:30 CEST.
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(Times("2030-03-30T01:30:00Z", "2030-03-31T01:00:00Z", "2030-04-01T00:30:00Z"));

        rig.Time.SetUtcNow(At("2030-10-25T12:00:00Z"));
        rig.Scheduler.Tick();
        await rig.Runner.IdleAsync();
        var before = rig.Fired(job.Id).Count;
        await rig.AdvanceAsync(TimeSpan.FromDays(3), M(1));
        // 02:30 happens twice on 27 October; a single-value expression fires in the first pass only.
        await Assert.That(rig.Fired(job.Id).Skip(before)).IsEquivalentTo(Times("2030-10-26T00:30:00Z", "2030-10-27T00:30:00Z", "2030-10-28T01:30:00Z"));
    }

    [Test]
    public async Task A_half_hourly_job_in_Berlin_neither_doubles_nor_misses_a_run_at_the_clock_changes()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Path, new FakeTimeProvider(At("2030-03-30T23:10:00Z")));
        var job = await rig.CreateAsync(Rig.Cron("*/30 * * * *", "Europe/Berlin"));
        await rig.AdvanceAsync(M(180), S(10));
        // 02:00 and 02:30 CET fall in the gap: they fire once, together, at 03:00 CEST (01:00Z).
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(Times(
            "2030-03-30T23:30:00Z", "2030-03-31T00:00:00Z", "2030-03-31T00:30:00Z", "2030-03-31T01:00:00Z",
            "2030-03-31T01:30:00Z", "2030-03-31T02:00:00Z"));

        rig.Time.SetUtcNow(At("2030-10-26T23:10:00Z"));
        rig.Scheduler.Tick();
        await rig.Runner.IdleAsync();
        var before = rig.Fired(job.Id).Count;
        await rig.AdvanceAsync(M(180), S(10));
        // The repeated hour 02:00-03:00 runs twice: an interval expression fires in both passes.
        await Assert.That(rig.Fired(job.Id).Skip(before)).IsEquivalentTo(Times(
            "2030-10-26T23:30:00Z", "2030-10-27T00:00:00Z", "2030-10-27T00:30:00Z", "2030-10-27T01:00:00Z",
            "2030-10-27T01:30:00Z", "2030-10-27T02:00:00Z"));
    }

    static async Task<(Guid Id, List<DateTimeOffset> Fired, Run[] Runs, JobEntry Entry)> RestartAsync(
        Microsoft.Extensions.Time.Testing.FakeTimeProvider time, JobSpec spec, TimeSpan upFor, TimeSpan downFor, TimeSpan after)
    {
        using var dir = new TempDir();
        Guid id;
        List<DateTimeOffset> fired;
        using (var rig = new Rig(dir.Path, time))
        {
            id = (await rig.CreateAsync(spec)).Id;
            await rig.AdvanceAsync(upFor, S(1));
            fired = rig.Fired(id);
        }
        time.Advance(downFor);
        using (var rig = new Rig(dir.Path, time))
        {
            // A made-up run starts during recovery and ends in real time; let it, before the clock moves.
            await rig.Runner.IdleAsync();
            await rig.AdvanceAsync(after, S(1));
            return (id, [.. fired, .. rig.Fired(id)], rig.Runs(id), rig.Jobs.Get(id)!);
        }
    }

    [Test]
    public async Task After_a_restart_catch_up_makes_up_the_latest_missed_slot_within_its_window()
    {
        var t0 = At("2030-01-01T00:10:00Z");
        var spec = Rig.Cron("0 * * * *", options: ScheduleOptions.None with { CatchUp = D(M(120)) });
        // Up until 01:05 (01:00 fires), down until 03:30 (02:00 and 03:00 missed), up until 04:05.
        var (_, fired, runs, _) = await RestartAsync(new FakeTimeProvider(t0), spec, M(55), M(145), M(35));
        await Assert.That(fired).IsEquivalentTo(Times("2030-01-01T01:00:00Z", "2030-01-01T03:00:00Z", "2030-01-01T04:00:00Z"));
        var caughtUp = runs.Single(r => r.ScheduledAt == At("2030-01-01T03:00:00Z"));
        await Assert.That(caughtUp.Trigger).IsEqualTo(RunTrigger.Schedule);
        await Assert.That(caughtUp.Attempts[0].StartedAt).IsEqualTo(At("2030-01-01T03:30:00Z"));
    }

    [Test]
    public async Task After_a_restart_a_missed_slot_older_than_catch_up_is_not_made_up()
    {
        var t0 = At("2030-01-01T00:10:00Z");
        var spec = Rig.Cron("0 * * * *", options: ScheduleOptions.None with { CatchUp = D(M(20)) });
        var (_, fired, _, _) = await RestartAsync(new FakeTimeProvider(t0), spec, M(55), M(145), M(35));
        await Assert.That(fired).IsEquivalentTo(Times("2030-01-01T01:00:00Z", "2030-01-01T04:00:00Z"));
    }

    [Test]
    public async Task A_quick_restart_with_catch_up_runs_no_slot_twice()
    {
        var t0 = At("2030-01-01T00:10:00Z");
        var spec = Rig.Cron("0 * * * *", options: ScheduleOptions.None with { CatchUp = D(M(120)) });
        // Down from 01:05 to 01:06: the slot at 01:00 was served before the stop.
        var (_, fired, _, _) = await RestartAsync(new FakeTimeProvider(t0), spec, M(55), M(1), M(60));
        await Assert.That(fired).IsEquivalentTo(Times("2030-01-01T01:00:00Z", "2030-01-01T02:00:00Z"));
    }

    [Test]
    public async Task An_every_job_with_catch_up_makes_up_its_latest_slot_after_a_restart()
    {
        var time = new FakeTimeProvider(Rig.T0);
        var spec = Rig.Every(S(10)) with { Schedule = new EverySchedule(Duration.FromSeconds(10), ScheduleOptions.None with { CatchUp = D(S(30)) }) };
        // Up 12 s (slot 10 fires), down until 45 s: slot 40 is made up at 45 s, then the grid goes on at 50.
        var (_, fired, _, _) = await RestartAsync(time, spec, S(12), S(33), S(10));
        await Assert.That(fired).IsEquivalentTo(new[] { Rig.T0 + S(10), Rig.T0 + S(40), Rig.T0 + S(50) });
    }

    [Test]
    public async Task A_once_job_missed_within_catch_up_runs_after_a_restart_and_one_outside_is_missed()
    {
        var inside = await RestartAsync(new FakeTimeProvider(Rig.T0),
            Rig.Once(Rig.T0 + S(5)) with { Schedule = new OnceSchedule(Rig.T0 + S(5), ScheduleOptions.None with { CatchUp = D(M(1)) }) },
            S(1), S(30), S(5));
        await Assert.That(inside.Fired).IsEquivalentTo(new[] { Rig.T0 + S(5) });
        await Assert.That(inside.Entry.State).IsEqualTo(JobState.Completed);
        await Assert.That(inside.Runs.Single().Status).IsEqualTo(RunStatus.Succeeded);

        var outside = await RestartAsync(new FakeTimeProvider(Rig.T0),
            Rig.Once(Rig.T0 + S(5)) with { Schedule = new OnceSchedule(Rig.T0 + S(5), ScheduleOptions.None with { CatchUp = D(M(1)) }) },
            S(1), S(120), S(5));
        await Assert.That(outside.Fired).IsEmpty();
        await Assert.That(outside.Entry.State).IsEqualTo(JobState.Missed);
        await Assert.That(outside.Runs.Single().Status).IsEqualTo(RunStatus.Missed);
    }

    [Test]
    public async Task On_resume_catch_up_makes_up_the_latest_slot_missed_while_paused()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Path, new FakeTimeProvider(At("2030-01-01T00:10:00Z")));
        var with = await rig.CreateAsync(Rig.Cron("0 * * * *", options: ScheduleOptions.None with { CatchUp = D(M(60)) }));
        var without = await rig.CreateAsync(Rig.Cron("0 * * * *"));
        await rig.AdvanceAsync(M(55), S(1));
        await rig.Jobs.PauseAsync(with.Id);
        await rig.Jobs.PauseAsync(without.Id);
        await rig.AdvanceAsync(M(145), S(1)); // paused through 02:00 and 03:00; now 03:30
        await rig.Jobs.ResumeAsync(with.Id);
        await rig.Jobs.ResumeAsync(without.Id);
        // The made-up run is started by the resume, not by a tick, so the rig does not wait for it:
        // still in flight at 04:00 (a loaded machine), it would rightly make that slot a skip.
        await rig.Runner.IdleAsync();
        await rig.AdvanceAsync(M(35), S(1));
        await Assert.That(rig.Fired(with.Id)).IsEquivalentTo(Times("2030-01-01T01:00:00Z", "2030-01-01T03:00:00Z", "2030-01-01T04:00:00Z"));
        await Assert.That(rig.Fired(without.Id)).IsEquivalentTo(Times("2030-01-01T01:00:00Z", "2030-01-01T04:00:00Z"));
        // Resuming again (idempotent) makes up nothing more.
        await rig.Jobs.ResumeAsync(with.Id);
        await rig.AdvanceAsync(S(5));
        await Assert.That(rig.Fired(with.Id).Count).IsEqualTo(3);
    }

    [Test]
    public async Task A_resumed_once_job_within_catch_up_runs_instead_of_being_missed()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Path);
        var job = await rig.CreateAsync(Rig.Once(Rig.T0 + S(5)) with
        {
            Enabled = false,
            Schedule = new OnceSchedule(Rig.T0 + S(5), ScheduleOptions.None with { CatchUp = D(S(30)) }),
        });
        await rig.AdvanceAsync(S(20));
        await rig.Jobs.ResumeAsync(job.Id);
        await rig.AdvanceAsync(S(1));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { Rig.T0 + S(5) });
        await Assert.That(rig.Jobs.Get(job.Id)!.State).IsEqualTo(JobState.Completed);
    }

    [Test]
    public async Task Start_at_and_end_at_bound_the_slots_and_the_job_then_completes()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Path);
        var job = await rig.CreateAsync(Rig.Cron("*/10 * * * * *", options: ScheduleOptions.None with { StartAt = Rig.T0 + S(30), EndAt = Rig.T0 + S(60) }));
        await Assert.That(rig.Jobs.NextRunAt(job)).IsEqualTo(Rig.T0 + S(30));
        await rig.AdvanceAsync(S(59));
        await Assert.That(rig.Jobs.Get(job.Id)!.State).IsEqualTo(JobState.Scheduled);
        await rig.AdvanceAsync(S(30));
        // Both edges are inclusive: a slot at start_at and one at end_at fire.
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { Rig.T0 + S(30), Rig.T0 + S(40), Rig.T0 + S(50), Rig.T0 + S(60) });
        var entry = rig.Jobs.Get(job.Id)!;
        await Assert.That(entry.State).IsEqualTo(JobState.Completed);
        await Assert.That(rig.Jobs.NextRunAt(entry.Job)).IsNull();
        await Assert.That(Upcoming.Of(entry.Job, rig.Time.GetUtcNow(), 10)).IsEmpty();
    }

    [Test]
    public async Task A_job_whose_last_run_is_in_flight_at_end_at_completes_when_it_ends()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Path);
        var release = new TaskCompletionSource<AttemptOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        rig.Send = _ => release.Task;
        var job = await rig.CreateAsync(Rig.Cron("*/10 * * * * *", options: ScheduleOptions.None with { EndAt = Rig.T0 + S(10) }));
        for (var i = 0; i < 120; i++) { rig.Time.Advance(TimeSpan.FromMilliseconds(100)); rig.Scheduler.Tick(); }
        await rig.Data.Journal.FlushAsync();
        await Assert.That(rig.Jobs.Get(job.Id)!.State).IsEqualTo(JobState.Scheduled);
        release.SetResult(Rig.Ok);
        await rig.Runner.IdleAsync();
        await Assert.That(rig.Jobs.Get(job.Id)!.State).IsEqualTo(JobState.Completed);
    }

    [Test]
    public async Task Jitter_is_stable_across_a_restart_and_runs_keep_the_slot_as_scheduled_at()
    {
        using var dir = new TempDir();
        var time = new FakeTimeProvider(Rig.T0);
        var spec = Rig.Cron("* * * * *", options: ScheduleOptions.None with { Jitter = D(S(30)) });
        Guid id;
        List<DateTimeOffset> planned;
        using (var rig = new Rig(dir.Path, time))
        {
            var job = await rig.CreateAsync(spec);
            id = job.Id;
            planned = Upcoming.Of(job, time.GetUtcNow(), 5);
        }
        using (var rig = new Rig(dir.Path, time))
        {
            var job = rig.Jobs.Get(id)!.Job;
            await Assert.That(Upcoming.Of(job, time.GetUtcNow(), 5)).IsEquivalentTo(planned);
            await rig.AdvanceAsync(M(5) + S(30), TimeSpan.FromMilliseconds(100));
            var calls = rig.Calls.Where(c => c.Run.Job.Id == id).ToList();
            await Assert.That(calls.Select(c => c.Run.ScheduledAt).Take(5)).IsEquivalentTo(Enumerable.Range(1, 5).Select(k => Rig.T0 + M(k)));
            for (var k = 0; k < 5; k++)
            {
                var offset = planned[k] - calls[k].Run.ScheduledAt;
                await Assert.That(offset >= TimeSpan.Zero && offset < S(30)).IsTrue();
                // Fired on the first tick at or after its jittered time.
                await Assert.That(calls[k].At - planned[k]).IsLessThan(TimeSpan.FromMilliseconds(100));
                await Assert.That(calls[k].At >= planned[k]).IsTrue();
            }
            var offsets = planned.Zip(calls, (p, c) => p - c.Run.ScheduledAt).Distinct().Count();
            await Assert.That(offsets).IsGreaterThan(1);
        }
    }
}
