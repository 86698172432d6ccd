using Ksana.Scheduling;

namespace Ksana.Tests.Unit.Schedules;

/// <summary>The <c>every</c> kind: a pure function of literal instants, no clock.</summary>
public class EveryScheduleTests
{
    static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    static Duration D(string text) => Duration.TryParse(text, out var d, out var why) ? d : throw new ArgumentException(why);

    [Test]
    [Arguments("2025-09-19T11:00:00Z", "5m", "2025-09-19T11:00:00Z", "2025-09-19T11:05:00Z")]
    [Arguments("2025-09-19T11:00:00Z", "5m", "2025-09-19T11:04:59Z", "2025-09-19T11:05:00Z")]
    [Arguments("2025-09-19T11:00:00Z", "5m", "2025-09-19T11:05:00Z", "2025-09-19T11:10:00Z")]
    [Arguments("2025-09-19T11:00:00Z", "5m", "2025-09-19T13:02:00Z", "2025-09-19T13:05:00Z")]
    [Arguments("2025-09-19T11:00:00Z", "1s", "2025-09-19T11:00:00.999Z", "2025-09-19T11:00:01Z")]
    [Arguments("2025-09-19T11:00:00.250Z", "1s", "2025-09-19T11:00:07.300Z", "2025-09-19T11:00:08.250Z")]
    [Arguments("2025-09-19T12:00:00Z", "1h", "2025-09-19T11:00:00Z", "2025-09-19T12:00:00Z")]
    // Nanoseconds are kept: the thousandth slot of 1.9999999999s (1 999 999 999 ns) is 1 µs short of 2000 s.
    [Arguments("2030-01-01T00:00:00Z", "1.9999999999s", "2030-01-01T00:33:19.9Z", "2030-01-01T00:33:19.999999Z")]
    public async Task Grid_slot_after(string origin, string every, string after, string expected)
    {
        var next = EverySchedule.GridSlotAfter(At(origin), D(every), At(after));
        await Assert.That(next).IsEqualTo(At(expected));
    }

    [Test]
    public async Task Paused_and_finished_jobs_have_no_next_slot()
    {
        var t = At("2030-01-01T00:00:00Z");
        var spec = Rig.Once(t.AddMinutes(1));
        var job = new Job(Guid.NewGuid(), spec, t, t, t, OnceOutcome.Pending, 1);
        await Assert.That(job.NextSlotAfter(t)).IsEqualTo(t.AddMinutes(1));
        await Assert.That((job with { Spec = spec with { Enabled = false } }).NextSlotAfter(t)).IsNull();
        await Assert.That((job with { Once = OnceOutcome.Fired }).NextSlotAfter(t)).IsNull();
        await Assert.That((job with { Once = OnceOutcome.Missed }).NextSlotAfter(t)).IsNull();
    }

    [Test]
    public async Task Without_start_at_the_first_slot_is_one_period_after_the_origin_even_when_asked_earlier()
    {
        var t = At("2030-01-01T00:00:00Z");
        var job = new Job(Guid.NewGuid(), Rig.Every(TimeSpan.FromHours(1)), t, t, t, OnceOutcome.Pending, 1);
        // A tick that read the clock a moment before the job was created must not fire it at once.
        await Assert.That(job.NextSlotAfter(t.AddMilliseconds(-3))).IsEqualTo(t.AddHours(1));
        var anchored = job with { Spec = Rig.Every(TimeSpan.FromHours(1), t) };
        await Assert.That(anchored.NextSlotAfter(t.AddMilliseconds(-3))).IsEqualTo(t);
    }

    [Test]
    [Arguments("2030-01-01T00:59:59Z", "2030-01-01T01:00:00Z")]
    [Arguments("2030-01-01T02:00:00Z", "2030-01-01T03:00:00Z")]
    [Arguments("2030-01-01T03:00:00Z", null)]
    public async Task End_at_is_the_last_slot_there_can_be(string after, string? expected)
    {
        var origin = At("2030-01-01T00:00:00Z");
        var schedule = new EverySchedule(D("1h"), ScheduleOptions.None with { EndAt = At("2030-01-01T03:00:00Z") });
        await Assert.That(schedule.SlotAfter(At(after), origin)).IsEqualTo(expected is null ? null : At(expected));
    }

    [Test]
    public async Task Jitter_is_within_its_bound_and_the_same_every_time()
    {
        var schedule = new EverySchedule(D("1m"), ScheduleOptions.None with { Jitter = D("30s") });
        var slot = At("2030-01-01T00:00:00Z");
        var offsets = new HashSet<TimeSpan>();
        for (var i = 0; i < 200; i++)
        {
            var job = Guid.NewGuid();
            var fire = schedule.FireTime(job, slot.AddMinutes(i));
            await Assert.That(fire - slot.AddMinutes(i)).IsGreaterThanOrEqualTo(TimeSpan.Zero).And.IsLessThan(TimeSpan.FromSeconds(30));
            await Assert.That(schedule.FireTime(job, slot.AddMinutes(i))).IsEqualTo(fire);
            offsets.Add(fire - slot.AddMinutes(i));
        }
        // Spread, not constant: 200 draws from 30 000 ms land on many values.
        await Assert.That(offsets.Count).IsGreaterThan(150);
    }

    static Schedule? Read(string every, string? jitter = null)
    {
        var fields = new ScheduleFields(At("2030-01-01T00:00:00Z"), checkPast: true, new Dictionary<string, List<string>>());
        fields.Add("kind", "every");
        fields.Add("every", every);
        if (jitter is not null) fields.Add("jitter", jitter);
        return ScheduleCodec.Read(fields);
    }

    [Test]
    public async Task Jobs_read_one_after_another_with_an_equal_schedule_share_one_instance()
    {
        var first = Read("1m");
        var second = Read("60s");
        var other = Read("1m", jitter: "5s");
        var third = Read("1m", jitter: "5s");
        await Assert.That(first).IsNotNull();
        await Assert.That(ReferenceEquals(first, second)).IsTrue();
        await Assert.That(other).IsNotEqualTo(first);
        await Assert.That(ReferenceEquals(other, third)).IsTrue();
        await Assert.That(((EverySchedule)third!).Options.Jitter).IsEqualTo(D("5s"));
    }
}
