using System.Text.Json;
using Ksana.Operations;
using Ksana.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace Ksana.Tests.Unit.Operations;

public class RunsPerMinuteTests
{
    static readonly DateTimeOffset Start = new(2026, 1, 1, 10, 0, 30, TimeSpan.Zero);

    [Test]
    public async Task A_snapshot_is_sixty_minutes_oldest_first_ending_with_the_current_minute()
    {
        var time = new FakeTimeProvider(Start);
        var minutes = new RunsPerMinute(time).Snapshot();
        await Assert.That(minutes.Length).IsEqualTo(60);
        await Assert.That(minutes[^1].At).IsEqualTo(new DateTimeOffset(2026, 1, 1, 10, 0, 0, TimeSpan.Zero));
        await Assert.That(minutes[0].At).IsEqualTo(new DateTimeOffset(2026, 1, 1, 9, 1, 0, TimeSpan.Zero));
        await Assert.That(minutes.All(m => m is { Succeeded: 0, Failed: 0, Skipped: 0, Missed: 0 })).IsTrue();
    }

    [Test]
    public async Task Runs_count_in_the_minute_they_finished_by_status()
    {
        var time = new FakeTimeProvider(Start);
        var runs = new RunsPerMinute(time);
        runs.Record(RunStatus.Succeeded, Start);
        runs.Record(RunStatus.Succeeded, Start.AddSeconds(-30)); // 10:00:00, same minute
        runs.Record(RunStatus.Failed, Start.AddSeconds(-31));    // 09:59:59
        runs.Record(RunStatus.Skipped, Start.AddMinutes(-5));
        runs.Record(RunStatus.Missed, Start.AddMinutes(-59));    // 09:01:30: the oldest minute shown
        runs.Record(RunStatus.Running, Start);                    // not final: ignored
        runs.Record(RunStatus.Retrying, Start);                   // not final: ignored
        runs.Record(RunStatus.Failed, Start.AddMinutes(-60));     // 09:00:30: outside the hour, ignored

        var minutes = runs.Snapshot();
        await Assert.That(minutes[59]).IsEqualTo(new MinuteCounts(new(2026, 1, 1, 10, 0, 0, TimeSpan.Zero), 2, 0, 0, 0));
        await Assert.That(minutes[58]).IsEqualTo(new MinuteCounts(new(2026, 1, 1, 9, 59, 0, TimeSpan.Zero), 0, 1, 0, 0));
        await Assert.That(minutes[54]).IsEqualTo(new MinuteCounts(new(2026, 1, 1, 9, 55, 0, TimeSpan.Zero), 0, 0, 1, 0));
        await Assert.That(minutes[0]).IsEqualTo(new MinuteCounts(new(2026, 1, 1, 9, 1, 0, TimeSpan.Zero), 0, 0, 0, 1));
        await Assert.That(minutes.Sum(m => m.Succeeded + m.Failed + m.Skipped + m.Missed)).IsEqualTo(5L);
    }

    [Test]
    public async Task Old_minutes_fall_out_as_the_clock_moves_and_their_slots_are_reused()
    {
        var time = new FakeTimeProvider(Start);
        var runs = new RunsPerMinute(time);
        runs.Record(RunStatus.Failed, Start);
        time.Advance(TimeSpan.FromMinutes(59));
        await Assert.That(runs.Snapshot()[0].Failed).IsEqualTo(1L);

        time.Advance(TimeSpan.FromMinutes(1)); // 11:00:30: the slot of 10:00 now belongs to 11:00
        await Assert.That(runs.Snapshot().Sum(m => m.Failed)).IsEqualTo(0L);
        runs.Record(RunStatus.Succeeded, time.GetUtcNow());
        var minutes = runs.Snapshot();
        await Assert.That(minutes[59]).IsEqualTo(new MinuteCounts(new(2026, 1, 1, 11, 0, 0, TimeSpan.Zero), 1, 0, 0, 0));
        await Assert.That(minutes.Sum(m => m.Failed)).IsEqualTo(0L);
    }

    [Test]
    public async Task A_finish_time_ahead_of_the_clock_counts_as_now()
    {
        var time = new FakeTimeProvider(Start);
        var runs = new RunsPerMinute(time);
        runs.Record(RunStatus.Succeeded, Start.AddMinutes(3));
        await Assert.That(runs.Snapshot()[59].Succeeded).IsEqualTo(1L);
    }

    [Test]
    public async Task Concurrent_records_are_all_counted()
    {
        var time = new FakeTimeProvider(Start);
        var runs = new RunsPerMinute(time);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++) runs.Record(RunStatus.Succeeded, Start);
        })));
        await Assert.That(runs.Snapshot()[59].Succeeded).IsEqualTo(40_000L);
    }

    [Test]
    public async Task The_endpoint_body_is_minutes_with_at_and_the_four_counts()
    {
        var time = new FakeTimeProvider(Start);
        var runs = new RunsPerMinute(time);
        runs.Record(RunStatus.Failed, Start);
        var json = JsonSerializer.Serialize(RunsPerMinuteView.From(runs.Snapshot()), OperationsJson.Default.RunsPerMinuteView);
        await Assert.That(json).StartsWith("{\"minutes\":[{\"at\":\"2026-01-01T09:01:00Z\",\"succeeded\":0,\"failed\":0,\"skipped\":0,\"missed\":0},");
        await Assert.That(json).EndsWith("{\"at\":\"2026-01-01T10:00:00Z\",\"succeeded\":0,\"failed\":1,\"skipped\":0,\"missed\":0}]}");
    }
}
