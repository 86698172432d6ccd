using Ksana.Scheduling;

namespace Ksana.Tests.Unit;

/// <summary>The timing rules of SPEC §2, driven by a fake clock: no sleeping, exact instants.</summary>
public class SchedulerTests
{
    static readonly DateTimeOffset T0 = Rig.T0;
    static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Test]
    public async Task Every_job_fires_on_a_fixed_grid_from_created_at()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(S(10)));
        await rig.AdvanceAsync(S(35));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(10), T0 + S(20), T0 + S(30) });
        await Assert.That(rig.Runs(job.Id).Select(r => r.Status)).IsEquivalentTo(new[] { RunStatus.Succeeded, RunStatus.Succeeded, RunStatus.Succeeded });
    }

    [Test]
    public async Task Cluster_a_slot_due_while_the_lease_renewal_is_late_fires_late_once_it_comes_and_is_passed_over_without_it()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(S(10)));
        // The node's leases lapse just before the slot of T0+10s; the round that renews them ends at +11.5 s.
        var renewedAt = T0 + S(11.5);
        rig.Scheduler.Owns = _ => rig.Time.GetUtcNow() >= renewedAt || rig.Time.GetUtcNow() < T0 + S(9.5);
        rig.Scheduler.Renewing = () => rig.Time.GetUtcNow() >= T0 + S(9.5) && rig.Time.GetUtcNow() < renewedAt;
        rig.Scheduler.RenewalWait = S(4);
        await rig.AdvanceAsync(S(12.5));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(10) }).Because("the slot waited for the renewal");
        var late = rig.Calls.Single().At;
        await Assert.That(late).IsGreaterThanOrEqualTo(renewedAt).And.IsLessThan(renewedAt + S(0.2));

        // No renewal for longer than the wait: the node cannot prove it owns the job, so the slot of
        // T0+20s is passed over, and the grid goes on once the leases are renewed again (at 27 s).
        rig.Scheduler.Owns = _ => rig.Time.GetUtcNow() < T0 + S(19.5) || rig.Time.GetUtcNow() >= T0 + S(27);
        rig.Scheduler.Renewing = () => rig.Time.GetUtcNow() >= T0 + S(19.5) && rig.Time.GetUtcNow() < T0 + S(27);
        await rig.AdvanceAsync(S(18));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(10), T0 + S(30) });
    }

    [Test]
    public async Task Start_at_sets_the_grid_origin()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(S(1), T0 + S(0.25)));
        await rig.AdvanceAsync(S(2.5), TimeSpan.FromMilliseconds(50));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(0.25), T0 + S(1.25), T0 + S(2.25) });
    }

    [Test]
    public async Task Slow_runs_do_not_make_the_grid_drift_and_overlapping_slots_are_skipped()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var release = new TaskCompletionSource<AttemptOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        rig.Send = _ => release.Task;
        var job = await rig.CreateAsync(Rig.Every(S(1)));
        for (var i = 0; i < 35; i++)
        {
            rig.Time.Advance(TimeSpan.FromMilliseconds(100));
            rig.Scheduler.Tick();
        }
        // The run that started at 1 s is still in flight: the slots at 2 s and 3 s are skipped, not queued.
        await rig.Data.Journal.FlushAsync();
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(1) });
        // Skips behind one run share one record: written at the first skip, counted up when the run ends.
        var skipped = rig.Runs(job.Id).Where(r => r.Status == RunStatus.Skipped).ToArray();
        await Assert.That(skipped.Select(r => r.ScheduledAt)).IsEquivalentTo(new[] { T0 + S(2) });

        release.SetResult(Rig.Ok);
        await rig.Runner.IdleAsync();
        await rig.Data.Journal.FlushAsync();
        skipped = rig.Runs(job.Id).Where(r => r.Status == RunStatus.Skipped).ToArray();
        await Assert.That(skipped.Length).IsEqualTo(1);
        await Assert.That(skipped[0].ScheduledAt).IsEqualTo(T0 + S(2));
        await Assert.That(skipped[0].Error!).StartsWith("2 slots skipped, 2030-01-01T00:00:02Z to 2030-01-01T00:00:03Z");
        rig.Send = _ => Task.FromResult(Rig.Ok);
        await rig.AdvanceAsync(S(1));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(1), T0 + S(4) });
    }

    [Test]
    public async Task Under_a_backlog_due_slots_wait_in_the_plan_and_fire_in_the_order_they_came_due()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data, workers: 1, readyMax: 2);
        var release = new TaskCompletionSource<AttemptOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        rig.Send = _ => release.Task;
        var jobs = new List<Job>();
        for (var i = 0; i < 6; i++) jobs.Add(await rig.CreateAsync(Rig.Every(S(10), T0 + S(10) + TimeSpan.FromMilliseconds(i))));
        await Assert.That(rig.Scheduler.Tick()).IsEqualTo(0); // plans them
        rig.Time.Advance(S(11));
        // One run takes the one worker, two wait for it, and that is the runner's backlog: the other
        // three slots stay in the plan, with no run made for them.
        await Assert.That(rig.Scheduler.Tick()).IsEqualTo(3);
        await Assert.That(jobs.Select(j => rig.Runner.InFlight(j.Id) is not null)).IsEquivalentTo(new[] { true, true, true, false, false, false });

        release.SetResult(Rig.Ok);
        await rig.Runner.IdleAsync();
        await Assert.That(rig.Scheduler.Tick()).IsEqualTo(3);
        await rig.Runner.IdleAsync();
        await rig.Data.Journal.FlushAsync();
        // Each slot fired once, late, as itself: in the order the slots came due, nothing skipped.
        List<Guid> order;
        lock (rig.Calls) order = rig.Calls.Select(c => c.Run.Job.Id).ToList();
        await Assert.That(order).IsEquivalentTo(jobs.Select(j => j.Id), TUnit.Assertions.Enums.CollectionOrdering.Matching);
        for (var i = 0; i < jobs.Count; i++)
        {
            await Assert.That(rig.Fired(jobs[i].Id)).IsEquivalentTo(new[] { T0 + S(10) + TimeSpan.FromMilliseconds(i) });
            await Assert.That(rig.Runs(jobs[i].Id).Select(r => r.Status)).IsEquivalentTo(new[] { RunStatus.Succeeded });
        }
    }

    [Test]
    public async Task On_the_system_clock_the_loop_fires_on_time_and_a_change_wakes_it_from_a_long_wait()
    {
        // The loop's own thread in timed waits. While it waits for slots an hour away (a wait of a
        // second), jobs created from other threads, each due 100 ms later, must fire within
        // milliseconds of their slot: the create wakes the loop, which then waits for the slot.
        using var dir = new TempDir();
        using var data = Storage.DataDir.Open(dir.Data, 20, 100_000, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var time = TimeProvider.System;
        var sent = new System.Collections.Concurrent.ConcurrentBag<(string Job, DateTimeOffset At)>();
        var runner = new Runner(data.Table, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<Runner>.Instance, (request, _) =>
        {
            sent.Add((request.Headers.First(h => h.Key == "X-Ksana-Job-Id").Value, time.GetUtcNow()));
            return Task.FromResult(Rig.Ok);
        }, workers: 4, userAgent: "ksana/test");
        var scheduler = new Scheduler(data.Table, runner, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<Scheduler>.Instance);
        await Assert.That(scheduler.TimedWaits).IsTrue();
        var jobs = new Jobs(data.Table, runner, time);
        await jobs.RecoverAsync(scheduler);
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            for (var i = 0; i < 10; i++) await jobs.CreateAsync(Rig.Every(TimeSpan.FromHours(1)));
            var due = new Dictionary<string, DateTimeOffset>();
            for (var i = 0; i < 5; i++)
            {
                await Task.Delay(300); // the loop is back in its long wait
                var at = time.GetUtcNow().AddMilliseconds(100);
                var job = (await jobs.CreateAsync(Rig.Every(TimeSpan.FromHours(1), at))).Value!;
                due[job.Id.ToString()] = at;
            }
            await Task.Delay(300);
            var late = sent.Where(s => due.ContainsKey(s.Job)).Select(s => (s.At - due[s.Job]).TotalMilliseconds).ToArray();
            await Assert.That(late.Length).IsEqualTo(5);
            // On time to the millisecond, with room for a busy test machine; the timer's loop was up to 4 ms late here.
            await Assert.That(late.Min()).IsGreaterThanOrEqualTo(0);
            await Assert.That(late.Max()).IsLessThan(50);
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// FirstPlanMade (start-up gives the heap back to the system then) is done once the first plan
    /// is made, with every replayed job planned, not before the loop starts.
    /// </summary>
    [Test]
    public async Task FirstPlanMade_is_done_once_every_replayed_job_is_planned()
    {
        using var dir = new TempDir();
        using (var rig = new Rig(dir.Data))
            for (var i = 0; i < 500; i++) await rig.CreateAsync(Rig.Every(TimeSpan.FromHours(1)));
        using var data = Storage.DataDir.Open(dir.Data, 20, 100_000, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Rig.T0);
        var runner = new Runner(data.Table, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<Runner>.Instance,
            (_, _) => Task.FromResult(Rig.Ok), workers: 4, userAgent: "ksana/test");
        var scheduler = new Scheduler(data.Table, runner, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<Scheduler>.Instance);
        var jobs = new Jobs(data.Table, runner, time);
        await jobs.RecoverAsync(scheduler);
        await Assert.That(scheduler.FirstPlanMade.IsCompleted).IsFalse();
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            await scheduler.FirstPlanMade.WaitAsync(TimeSpan.FromSeconds(10));
            await Assert.That(scheduler.PlannedCount).IsEqualTo(500);
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    public async Task After_changes_from_other_threads_the_loop_timer_has_the_period_the_scheduler_recorded()
    {
        // On the real clock, the loop sets its period after each tick (here up to a second: the only
        // slots are an hour away) while creates on other threads ask for 1 ms at once. However they
        // interleave, the timer must end with the period the scheduler last recorded. Set apart, the
        // two could part, the timer left at the longer period and the record at 1 ms, and a loop
        // with slots always due (overload) then ticked twice a second instead of every millisecond.
        // That race is a few instructions wide: this test checks the outcome, it cannot force it.
        using var dir = new TempDir();
        using var data = Storage.DataDir.Open(dir.Data, 20, 100_000, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var time = TimeProvider.System;
        var runner = new Runner(data.Table, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<Runner>.Instance,
            (_, _) => Task.FromResult(Rig.Ok), workers: 4, userAgent: "ksana/test");
        var scheduler = new Scheduler(data.Table, runner, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<Scheduler>.Instance)
        {
            TimedWaits = false, // the timer's loop, which other clocks than the system's use
        };
        var jobs = new Jobs(data.Table, runner, time);
        await jobs.RecoverAsync(scheduler);
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            var until = DateTime.UtcNow.AddSeconds(0.5);
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (DateTime.UtcNow < until) await jobs.CreateAsync(Rig.Every(TimeSpan.FromHours(1)));
            })));
            // Quiet now: the loop drains the inbox and settles on a period for the slots an hour away.
            await Task.Delay(100);
            var (timer, set) = scheduler.Periods;
            await Assert.That(timer).IsEqualTo(set);
            await Assert.That(set).IsEqualTo(Scheduler.TickMax);
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    public async Task A_run_asked_to_start_inline_with_no_worker_free_waits_behind_the_runs_already_waiting()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data, workers: 1);
        var release = new TaskCompletionSource<AttemptOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        rig.Send = _ => release.Task;
        var a = await rig.CreateAsync(Rig.Every(S(10)));
        var b = await rig.CreateAsync(Rig.Every(S(10)));
        var c = await rig.CreateAsync(Rig.Every(S(10)));
        await Assert.That(rig.Runner.StartScheduled(a, T0 + S(10), inline: true)).IsTrue();  // takes the worker
        await Assert.That(rig.Runner.StartScheduled(b, T0 + S(10))).IsTrue();                // waits for it
        await Assert.That(rig.Runner.StartScheduled(c, T0 + S(10), inline: true)).IsTrue();  // waits behind b
        int sent;
        lock (rig.Calls) sent = rig.Calls.Count;
        await Assert.That(sent).IsEqualTo(1);
        release.SetResult(Rig.Ok);
        await rig.Runner.IdleAsync();
        List<Guid> order;
        lock (rig.Calls) order = rig.Calls.Select(call => call.Run.Job.Id).ToList();
        await Assert.That(order).IsEquivalentTo(new[] { a.Id, b.Id, c.Id }, TUnit.Assertions.Enums.CollectionOrdering.Matching);
    }

    [Test]
    public async Task Once_job_fires_once_at_run_at_and_completes()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Once(T0 + S(3)));
        await rig.AdvanceAsync(S(10));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(3) });
        await Assert.That(rig.Jobs.Get(job.Id)!.Job.State).IsEqualTo(JobState.Completed);
        await Assert.That(rig.Jobs.NextRunAt(rig.Jobs.Get(job.Id)!.Job)).IsNull();
    }

    [Test]
    public async Task Restart_rolls_every_jobs_forward_without_catching_up()
    {
        using var dir = new TempDir();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0);
        Guid id;
        using (var rig = new Rig(dir.Data, time))
        {
            id = (await rig.CreateAsync(Rig.Every(S(10)))).Id;
            await rig.AdvanceAsync(S(12));
            await Assert.That(rig.Fired(id)).IsEquivalentTo(new[] { T0 + S(10) });
        }
        time.Advance(S(33)); // down from 12 s to 45 s: slots at 20, 30 and 40 s pass unseen
        using (var rig = new Rig(dir.Data, time))
        {
            await rig.AdvanceAsync(S(10));
            await Assert.That(rig.Fired(id)).IsEquivalentTo(new[] { T0 + S(50) });
        }
    }

    [Test]
    public async Task The_first_plan_after_a_restart_is_made_by_the_first_tick_from_the_time_of_recovery()
    {
        using var dir = new TempDir();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0);
        Guid id;
        using (var rig = new Rig(dir.Data, time))
            id = (await rig.CreateAsync(Rig.Every(S(10)))).Id;
        time.Advance(S(5)); // restarted at 5 s
        using (var rig = new Rig(dir.Data, time))
        {
            // The first tick comes at 12 s: the slot at 10 s came due after recovery, so it is not a
            // slot missed while down, and fires (late), as it did when recovery planned at once.
            time.Advance(S(7));
            await rig.AdvanceAsync(S(0.1));
            await Assert.That(rig.Fired(id)).IsEquivalentTo(new[] { T0 + S(10) });
        }
    }

    [Test]
    public async Task Start_up_looks_for_repairs_only_among_the_jobs_replay_marked()
    {
        using var dir = new TempDir();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0);
        Guid once, catchUp;
        using (var rig = new Rig(dir.Data, time))
        {
            await rig.CreateAsync(Rig.Every(S(10)));
            time.Advance(S(1));
            once = (await rig.CreateAsync(Rig.Once(T0 + S(60)))).Id;
            time.Advance(S(1));
            var gone = (await rig.CreateAsync(Rig.Once(T0 + S(60)))).Id;
            time.Advance(S(1));
            catchUp = (await rig.CreateAsync(Rig.Every(S(10)) with
            {
                Schedule = new Ksana.Scheduling.Schedules.EverySchedule(Ksana.Wire.Duration.FromSeconds(10),
                    Ksana.Scheduling.Schedules.ScheduleOptions.None with { CatchUp = Ksana.Wire.Duration.FromSeconds(30) }),
            })).Id;
            await rig.Jobs.DeleteAsync(gone);
        }
        using var data = Ksana.Storage.DataDir.Open(dir.Data, 20, 100_000, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var candidates = data.Table.TakeRepairCandidates().Select(e => e.Job.Id).ToArray();
        // The once job and the catch_up job, in listing order; not the plain job, nor the deleted one.
        await Assert.That(candidates.SequenceEqual(new[] { once, catchUp })).IsTrue();
        await Assert.That(data.Table.TakeRepairCandidates()).IsEmpty();
    }

    [Test]
    public async Task Once_job_whose_time_passed_while_down_is_missed()
    {
        using var dir = new TempDir();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0);
        Guid id;
        using (var rig = new Rig(dir.Data, time))
            id = (await rig.CreateAsync(Rig.Once(T0 + S(5)))).Id;
        time.Advance(S(10));
        using (var rig = new Rig(dir.Data, time))
        {
            await rig.AdvanceAsync(S(5));
            await Assert.That(rig.Fired(id)).IsEmpty();
            await Assert.That(rig.Jobs.Get(id)!.Job.State).IsEqualTo(JobState.Missed);
            var run = rig.Runs(id).Single();
            await Assert.That(run.Status).IsEqualTo(RunStatus.Missed);
            await Assert.That(run.ScheduledAt).IsEqualTo(T0 + S(5));
        }
    }

    [Test]
    public async Task A_stall_passes_over_the_slots_it_missed_and_says_so_once_a_minute()
    {
        using var dir = new TempDir();
        var log = new CapturingLogger<Scheduler>();
        using var rig = new Rig(dir.Data, schedulerLog: log);
        var job = await rig.CreateAsync(Rig.Every(S(1)));
        await rig.AdvanceAsync(S(3.5));
        await Assert.That(log.Lines).IsEmpty().Because("slots fired on time");
        // The loop gets its next turn 5 s on (a paused VM): slot 4 fires 4.5 s late, 5 to 8 are passed over.
        await rig.AdvanceAsync(S(5), S(5));
        await rig.AdvanceAsync(S(1));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(1), T0 + S(2), T0 + S(3), T0 + S(4), T0 + S(9) });
        await Assert.That(log.Lines.ToArray()).IsEquivalentTo(new[]
        {
            "Warning: Slots fired late: 1, the latest 4500 ms after its time. Ksana or the machine could not keep up; " +
            "a slot that came due meanwhile was passed over, not made up (see ksana_run_lateness_seconds)",
        });
        // Another stall within the minute is counted, not logged; the next line after it says so.
        await rig.AdvanceAsync(S(3), S(3));
        await Assert.That(log.Lines.Count).IsEqualTo(1);
        await rig.AdvanceAsync(S(60), S(2)); // every 2 s a slot 1.5 s late
        var lines = log.Lines.ToArray();
        await Assert.That(lines.Length).IsEqualTo(3);
        await Assert.That(lines[1]).Matches("^Warning: [0-9]+ more lines about late slots were not logged \\(at most 1 such lines every 60 s\\)$");
        await Assert.That(lines[2]).StartsWith("Warning: Slots fired late: 1, the latest 1500 ms after its time.");
    }

    [Test]
    public async Task Pause_keeps_the_job_and_resume_continues_on_the_grid()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(S(10)));
        await rig.AdvanceAsync(S(5));
        await Assert.That((await rig.Jobs.PauseAsync(job.Id)).Value!.State).IsEqualTo(JobState.Paused);
        await Assert.That((await rig.Jobs.PauseAsync(job.Id)).Value!.State).IsEqualTo(JobState.Paused);
        await rig.AdvanceAsync(S(20));
        await Assert.That(rig.Fired(job.Id)).IsEmpty();
        await rig.Jobs.ResumeAsync(job.Id);
        await rig.AdvanceAsync(S(10));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(30) });
    }

    [Test]
    public async Task Resuming_a_once_job_after_its_time_marks_it_missed()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Once(T0 + S(5)));
        await rig.Jobs.PauseAsync(job.Id);
        await rig.AdvanceAsync(S(10));
        var resumed = await rig.Jobs.ResumeAsync(job.Id);
        await rig.AdvanceAsync(S(2));
        await Assert.That(resumed.Value!.State).IsEqualTo(JobState.Missed);
        await Assert.That(rig.Fired(job.Id)).IsEmpty();
        await Assert.That(rig.Runs(job.Id).Single().Status).IsEqualTo(RunStatus.Missed);
    }

    [Test]
    public async Task Changing_the_schedule_restarts_the_grid_from_the_change()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(S(10)));
        await rig.AdvanceAsync(S(13));
        await rig.Jobs.UpdateAsync(job.Id, j => new JobChange(j.Spec with { Schedule = new EverySchedule(Duration.FromSeconds(10), ScheduleOptions.None) }, true));
        await rig.AdvanceAsync(S(12));
        await Assert.That(rig.Fired(job.Id)).IsEquivalentTo(new[] { T0 + S(10), T0 + S(23) });
    }

    [Test]
    public async Task Run_now_runs_at_once_without_touching_the_schedule_even_when_paused()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(S(10)));
        await rig.Jobs.PauseAsync(job.Id);
        var started = await rig.Jobs.RunNowAsync(job.Id);
        await rig.Runner.IdleAsync();
        await rig.Data.Journal.FlushAsync();
        await Assert.That(started.Refusal).IsEqualTo(Refusal.None);
        await Assert.That(started.Value!).Matches("^[0-9a-f]{32}$");
        var run = rig.Runs(job.Id).Single();
        await Assert.That(run.Trigger).IsEqualTo(RunTrigger.Manual);
        await Assert.That(run.Status).IsEqualTo(RunStatus.Succeeded);
        await Assert.That(rig.Jobs.Get(job.Id)!.Job.State).IsEqualTo(JobState.Paused);
    }

    [Test]
    public async Task Runs_started_within_one_millisecond_list_newest_first_in_the_order_they_started()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var a = await rig.CreateAsync(Rig.Every(S(3600)));
        var b = await rig.CreateAsync(Rig.Every(S(3600)));
        // The fake clock stands still, so every run has the same scheduled_at: only the ids can
        // order them, and they must do it as the runs happened (random ids got it right half the time).
        var started = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            started.Add((await rig.Jobs.RunNowAsync(i % 2 == 0 ? a.Id : b.Id)).Value!);
            await rig.Runner.IdleAsync();
        }
        await rig.Data.Journal.FlushAsync();
        started.Reverse();
        var (all, _) = RunQueries.List(rig.Data.Table, new RunQuery(100, null, null, null, null));
        await Assert.That(all.Select(r => Run.Text(r.RunId))).IsEquivalentTo(started, TUnit.Assertions.Enums.CollectionOrdering.Matching);
        var (ofA, _) = RunQueries.List(rig.Data.Table, new RunQuery(100, null, a.Id, null, null));
        await Assert.That(ofA.Select(r => Run.Text(r.RunId))).IsEquivalentTo(started.Where((_, i) => i % 2 == 1), TUnit.Assertions.Enums.CollectionOrdering.Matching);
    }

    [Test]
    public async Task A_run_in_flight_at_a_crash_is_failed_as_interrupted_at_the_next_start()
    {
        using var dir = new TempDir();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0);
        Guid id;
        using (var rig = new Rig(dir.Data, time))
        {
            rig.Send = _ => new TaskCompletionSource<AttemptOutcome>().Task; // never answers
            id = (await rig.CreateAsync(Rig.Every(S(1)))).Id;
            rig.Scheduler.Tick();
            rig.Time.Advance(S(1));
            rig.Scheduler.Tick();
            await Task.Delay(50);
            await rig.Data.Journal.FlushAsync();
        }
        using (var rig = new Rig(dir.Data, time))
        {
            var run = rig.Runs(id).Single();
            await Assert.That(run.Status).IsEqualTo(RunStatus.Failed);
            await Assert.That(run.Error!).Contains("interrupted");
        }
    }

    [Test]
    public async Task A_run_interrupted_by_a_crash_counts_as_a_failure_sends_run_failed_and_can_pause_its_job()
    {
        using var dir = new TempDir();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0);
        Guid id;
        using (var rig = new Rig(dir.Data, time, eventsOn: true))
        {
            rig.Send = _ => new TaskCompletionSource<AttemptOutcome>().Task; // never answers
            id = (await rig.CreateAsync(Rig.Every(S(1)) with { PauseAfterFailures = 1 })).Id;
            rig.Scheduler.Tick();
            rig.Time.Advance(S(1));
            rig.Scheduler.Tick();
            await Task.Delay(50);
            await rig.Data.Journal.FlushAsync();
        }
        using (var rig = new Rig(dir.Data, time, eventsOn: true))
        {
            var entry = rig.Jobs.Get(id)!;
            var run = entry.Runs.Single();
            await Assert.That(run.Status).IsEqualTo(RunStatus.Failed);
            await Assert.That(entry.Job.FailureStreak).IsEqualTo(1);
            await Assert.That(entry.Job.State).IsEqualTo(JobState.Paused);
            await Assert.That(entry.Job.PausedReason!).Contains("interrupted");
            await Assert.That(entry.Outbox.Select(e => e.Type)).IsEquivalentTo(new[] { Event.RunFailed, Event.JobPaused });
            await Assert.That(entry.Outbox[0].Run.RunId).IsEqualTo(run.RunId);
            // Paused by the failure: the clock moving on fires nothing.
            await rig.AdvanceAsync(S(3));
            await Assert.That(rig.Calls.Count).IsEqualTo(0);
        }
        using (var rig = new Rig(dir.Data, time, eventsOn: true))
        {
            // The repair was durable: a second restart finds the same, and adds nothing.
            var entry = rig.Jobs.Get(id)!;
            await Assert.That(entry.Runs.Count).IsEqualTo(1);
            await Assert.That(entry.Job.State).IsEqualTo(JobState.Paused);
            await Assert.That(entry.Outbox.Length).IsEqualTo(2);
        }
    }

    [Test]
    public async Task Deleted_jobs_stop_firing()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(S(1)));
        await rig.AdvanceAsync(S(1.5));
        await Assert.That((await rig.Jobs.DeleteAsync(job.Id)).Refusal).IsEqualTo(Refusal.None);
        await rig.AdvanceAsync(S(3));
        await Assert.That(rig.Fired(job.Id).Count).IsEqualTo(1);
        await Assert.That((await rig.Jobs.DeleteAsync(job.Id)).Refusal).IsEqualTo(Refusal.NotFound);
    }
}
