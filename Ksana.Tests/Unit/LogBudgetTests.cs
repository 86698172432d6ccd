using Ksana.Scheduling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Ksana.Tests.Unit;

public class LogBudgetTests
{
    static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Test]
    public async Task At_most_a_burst_of_lines_goes_out_each_window_and_the_next_one_says_how_many_were_held()
    {
        var time = new FakeTimeProvider();
        var log = new CapturingLogger<LogBudgetTests>();
        var budget = new LogBudget(time, "failed runs", burst: 10, window: S(10));
        var allowed = Enumerable.Range(0, 25).Count(_ => budget.Allows(log, LogLevel.Warning));
        await Assert.That(allowed).IsEqualTo(10);
        await Assert.That(log.Lines).IsEmpty();

        time.Advance(S(9.9));
        await Assert.That(budget.Allows(log, LogLevel.Warning)).IsFalse().Because("the window has not ended");
        time.Advance(S(0.1));
        await Assert.That(budget.Allows(log, LogLevel.Warning)).IsTrue();
        await Assert.That(log.Lines.ToArray()).IsEquivalentTo(new[] { "Warning: 16 more failed runs were not logged (at most 10 such lines every 10 s)" });
        await Assert.That(budget.Allows(log, LogLevel.Warning)).IsTrue();
        await Assert.That(log.Lines.Count).IsEqualTo(1).Because("the count was said once");
    }

    [Test]
    public async Task Lines_held_back_are_counted_when_their_window_ends_though_no_later_line_comes()
    {
        var time = new FakeTimeProvider();
        var log = new CapturingLogger<LogBudgetTests>();
        var budget = new LogBudget(time, "failed runs", burst: 2, window: S(10));
        await Assert.That(Enumerable.Range(0, 7).Count(_ => budget.Allows(log, LogLevel.Error))).IsEqualTo(2);
        time.Advance(S(9.9));
        await Assert.That(log.Lines).IsEmpty();
        time.Advance(S(0.1));
        await Assert.That(log.Lines.ToArray()).IsEquivalentTo(new[] { "Error: 5 more failed runs were not logged (at most 2 such lines every 10 s)" });

        // Said once: neither the next line let through nor a later window says it again.
        await Assert.That(budget.Allows(log, LogLevel.Error)).IsTrue();
        time.Advance(S(30));
        await Assert.That(log.Lines.Count).IsEqualTo(1);

        // A new burst in a later window is counted at that window's end.
        time.Advance(S(1));
        await Assert.That(Enumerable.Range(0, 4).Count(_ => budget.Allows(log, LogLevel.Error))).IsEqualTo(2);
        time.Advance(S(10));
        await Assert.That(log.Lines.Last()).IsEqualTo("Error: 2 more failed runs were not logged (at most 2 such lines every 10 s)");
        await Assert.That(log.Lines.Count).IsEqualTo(2);
    }

    [Test]
    public async Task A_level_the_log_leaves_out_uses_none_of_the_budget()
    {
        var time = new FakeTimeProvider();
        var log = new CapturingLogger<LogBudgetTests> { MinimumLevel = LogLevel.Warning };
        var budget = new LogBudget(time, "slots not fired here", burst: 2);
        await Assert.That(Enumerable.Range(0, 5).Count(_ => budget.Allows(log, LogLevel.Information))).IsEqualTo(0);
        await Assert.That(budget.Allows(log, LogLevel.Warning)).IsTrue();
        await Assert.That(budget.Allows(log, LogLevel.Warning)).IsTrue();
        await Assert.That(log.Lines).IsEmpty().Because("nothing was held back at a level that is logged");
    }

    [Test]
    public async Task A_dead_callee_behind_many_jobs_writes_a_bounded_number_of_failure_lines()
    {
        using var dir = new TempDir();
        var log = new CapturingLogger<Runner>();
        using var rig = new Rig(dir.Data, runnerLog: log);
        rig.Send = _ => Task.FromResult(new AttemptOutcome(AttemptResult.Failed, 404, null));
        for (var i = 0; i < 40; i++) await rig.CreateAsync(Rig.Every(S(1)));
        await rig.AdvanceAsync(S(3));
        // 120 failed runs in three seconds: ten lines, and every run is still recorded as failed.
        await Assert.That(log.Lines.Count(l => l.Contains(" failed: "))).IsEqualTo(10);
        var failed = rig.Data.Table.Entries.Sum(e => e.Runs.Count(r => r.Status == RunStatus.Failed));
        await Assert.That(failed).IsGreaterThanOrEqualTo(120);
        await rig.AdvanceAsync(S(8));
        await Assert.That(log.Lines.Count(l => l.Contains(" failed: "))).IsEqualTo(20);
        await Assert.That(log.Lines.Count(l => l.Contains("more failed runs were not logged"))).IsEqualTo(1);
    }
}
