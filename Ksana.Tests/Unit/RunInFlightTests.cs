using Ksana.Scheduling;

namespace Ksana.Tests.Unit;

/// <summary>
/// A run's stop source comes from the runner's pool and goes back when the run ends: reuse must never
/// let a stop reach a run other than its own.
/// </summary>
public class RunInFlightTests
{
    static RunInFlight NewRun(Rig rig, Job job) => new(rig.Runner, job, Guid.NewGuid(), RunTrigger.Manual, Rig.T0);

    [Test]
    public async Task A_run_that_ended_unstopped_gives_its_source_to_the_next_run()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(TimeSpan.FromHours(1)));
        var first = NewRun(rig, job);
        var firstToken = first.StopToken;
        first.Finish();
        var second = NewRun(rig, job);
        // The same source, reset: the reuse this test guards is really happening.
        await Assert.That(second.StopToken == firstToken).IsTrue();
        await Assert.That(second.StopToken.IsCancellationRequested).IsFalse();
    }

    [Test]
    public async Task A_stop_that_arrives_after_its_run_ended_does_not_reach_the_run_now_on_its_source()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(TimeSpan.FromHours(1)));
        var ended = NewRun(rig, job);
        _ = ended.StopToken;
        ended.Finish();
        var next = NewRun(rig, job);
        var token = next.StopToken;
        ended.Stop(StopReason.JobDeleted);
        await Assert.That(token.IsCancellationRequested).IsFalse();
        await Assert.That(ended.StopReason).IsEqualTo(StopReason.None);
        next.Stop(StopReason.JobDeleted);
        await Assert.That(token.IsCancellationRequested).IsTrue();
        await Assert.That(next.StopReason).IsEqualTo(StopReason.JobDeleted);
    }

    [Test]
    public async Task A_stopped_run_keeps_its_cancelled_source_and_the_next_run_gets_a_fresh_one()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(TimeSpan.FromHours(1)));
        var stopped = NewRun(rig, job);
        var stoppedToken = stopped.StopToken;
        stopped.Stop(StopReason.ShuttingDown);
        stopped.Finish();
        await Assert.That(stoppedToken.IsCancellationRequested).IsTrue();
        var next = NewRun(rig, job);
        await Assert.That(next.StopToken.IsCancellationRequested).IsFalse();
        await Assert.That(next.StopToken == stoppedToken).IsFalse();
    }

    [Test]
    public async Task A_stop_before_the_run_took_its_token_is_seen_when_it_does()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(TimeSpan.FromHours(1)));
        var run = NewRun(rig, job);
        run.Stop(StopReason.JobDeleted);
        await Assert.That(run.StopToken.IsCancellationRequested).IsTrue();
    }
}
