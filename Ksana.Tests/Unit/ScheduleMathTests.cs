using Ksana.Scheduling;

namespace Ksana.Tests.Unit;

public class ScheduleMathTests
{
    static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    [Test]
    [Arguments("2025-09-19T11:00:00Z", "5m", "2025-09-19T11:00:00Z", "2025-09-19T11:05:00Z")]
    [Arguments("2025-09-19T11:00:00Z", "5m", "2025-09-19T11:04:59Z", "2025-09-19T11:05:00Z")]
    [Arguments("2025-09-19T11:00:00Z", "5m", "2025-09-19T11:05:00Z", "2025-09-19T11:10:00Z")]
    [Arguments("2025-09-19T11:00:00Z", "5m", "2025-09-19T13:02:00Z", "2025-09-19T13:05:00Z")]
    [Arguments("2025-09-19T11:00:00Z", "1s", "2025-09-19T11:00:00.999Z", "2025-09-19T11:00:01Z")]
    [Arguments("2025-09-19T11:00:00.250Z", "1s", "2025-09-19T11:00:07.300Z", "2025-09-19T11:00:08.250Z")]
    [Arguments("2025-09-19T12:00:00Z", "1h", "2025-09-19T11:00:00Z", "2025-09-19T12:00:00Z")]
    public async Task Grid_slot_after(string origin, string every, string after, string expected)
    {
        GoDuration.TryParse(every, out var ns, out _);
        var next = ScheduleMath.GridSlotAfter(At(origin), GoDuration.ToTimeSpan(ns), At(after));
        await Assert.That(next).IsEqualTo(At(expected));
    }

    [Test]
    public async Task Paused_and_finished_jobs_have_no_next_slot()
    {
        var t = At("2030-01-01T00:00:00Z");
        var spec = Rig.Once(t.AddMinutes(1));
        var job = new Job(Guid.NewGuid(), spec, t, t, t, OnceOutcome.Pending, 1);
        await Assert.That(ScheduleMath.NextAfter(job, t)).IsEqualTo(t.AddMinutes(1));
        await Assert.That(ScheduleMath.NextAfter(job with { Spec = spec with { Enabled = false } }, t)).IsNull();
        await Assert.That(ScheduleMath.NextAfter(job with { Once = OnceOutcome.Fired }, t)).IsNull();
        await Assert.That(ScheduleMath.NextAfter(job with { Once = OnceOutcome.Missed }, t)).IsNull();
    }
}

public class ScheduleMathOriginTests
{
    [Test]
    public async Task Without_start_at_the_first_slot_is_one_period_after_the_origin_even_when_asked_earlier()
    {
        var t = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var job = new Job(Guid.NewGuid(), Rig.Every(TimeSpan.FromHours(1)), t, t, t, OnceOutcome.Pending, 1);
        // A tick that read the clock a moment before the job was created must not fire it at once.
        await Assert.That(ScheduleMath.NextAfter(job, t.AddMilliseconds(-3))).IsEqualTo(t.AddHours(1));
        var anchored = job with { Spec = Rig.Every(TimeSpan.FromHours(1), t) };
        await Assert.That(ScheduleMath.NextAfter(anchored, t.AddMilliseconds(-3))).IsEqualTo(t);
    }
}
