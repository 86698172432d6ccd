using Ksana.Scheduling;

namespace Ksana.Tests.Unit;

/// <summary>
/// A run's stop source comes from the runner's pool and goes back when the run ends: reuse must never
/// let a stop reach a run other than its own.
/// </summary>
public sealed class RunInFlightTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly Rig _rig;
    Job? _job;

    public RunInFlightTests() => _rig = new Rig(_dir.Data);

    public void Dispose()
    {
        _rig.Dispose();
        _dir.Dispose();
    }

    /// <summary>A new run of the test's one job, not started: the tests drive its source by hand.</summary>
    async Task<RunInFlight> NewRunAsync()
    {
        _job ??= await _rig.CreateAsync(Rig.Every(TimeSpan.FromHours(1)));
        return new RunInFlight(_rig.Runner, _job, Guid.NewGuid(), RunTrigger.Manual, Rig.T0);
    }

    [Test]
    public async Task A_run_that_ended_unstopped_gives_its_source_to_the_next_run()
    {
        var first = await NewRunAsync();
        var firstToken = first.StopToken;
        first.Finish();
        var second = await NewRunAsync();
        // The same source, reset: the reuse this test guards is really happening.
        await Assert.That(second.StopToken == firstToken).IsTrue();
        await Assert.That(second.StopToken.IsCancellationRequested).IsFalse();
    }

    [Test]
    public async Task A_stop_that_arrives_after_its_run_ended_does_not_reach_the_run_now_on_its_source()
    {
        var ended = await NewRunAsync();
        _ = ended.StopToken;
        ended.Finish();
        var next = await NewRunAsync();
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
        var stopped = await NewRunAsync();
        var stoppedToken = stopped.StopToken;
        stopped.Stop(StopReason.ShuttingDown);
        stopped.Finish();
        await Assert.That(stoppedToken.IsCancellationRequested).IsTrue();
        var next = await NewRunAsync();
        await Assert.That(next.StopToken.IsCancellationRequested).IsFalse();
        await Assert.That(next.StopToken == stoppedToken).IsFalse();
    }

    [Test]
    public async Task A_stop_before_the_run_took_its_token_is_seen_when_it_does()
    {
        var run = await NewRunAsync();
        run.Stop(StopReason.JobDeleted);
        await Assert.That(run.StopToken.IsCancellationRequested).IsTrue();
    }
}
