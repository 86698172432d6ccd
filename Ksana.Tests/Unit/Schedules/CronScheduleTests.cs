using Ksana.Scheduling;
using Ksana.Scheduling.Cron;

namespace Ksana.Tests.Unit.Schedules;

/// <summary>The <c>cron</c> kind and its codec: pure functions of literal instants, no clock.</summary>
public class CronScheduleTests
{
    static readonly DateTimeOffset Now = new(2030, 3, 1, 12, 0, 0, TimeSpan.Zero);

    static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    static (Schedule? Schedule, Dictionary<string, List<string>> Errors) Read(params (string Name, string Text)[] members)
    {
        var errors = new Dictionary<string, List<string>>();
        var fields = new ScheduleFields(Now, checkPast: true, errors);
        fields.Add("kind", "cron");
        foreach (var (name, text) in members) fields.Add(name, text);
        return (ScheduleCodec.Read(fields), errors);
    }

    static string Written(Schedule schedule)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer)) ScheduleCodec.Write(w, schedule);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Test]
    public async Task The_zone_defaults_to_UTC_and_is_written_back_with_the_expression_as_given()
    {
        var (schedule, errors) = Read(("cron", "0  9 * * mon-fri"));
        await Assert.That(errors).IsEmpty();
        await Assert.That(Written(schedule!)).IsEqualTo("{\"kind\":\"cron\",\"cron\":\"0  9 * * mon-fri\",\"time_zone\":\"UTC\"}");
        await Assert.That(schedule!.Zone).IsEqualTo(TimeZoneInfo.Utc);
    }

    [Test]
    public async Task Two_schedules_with_the_same_text_zone_and_options_are_equal()
    {
        var a = Read(("cron", "*/5 * * * *"), ("time_zone", "Europe/Berlin"), ("jitter", "10s")).Schedule;
        var b = Read(("cron", "*/5 * * * *"), ("time_zone", "europe/berlin"), ("jitter", "10s")).Schedule;
        var c = Read(("cron", "*/5 * * * *"), ("time_zone", "Europe/Paris"), ("jitter", "10s")).Schedule;
        await Assert.That(a).IsEqualTo(b);
        await Assert.That(a!.GetHashCode()).IsEqualTo(b!.GetHashCode());
        await Assert.That(a).IsNotEqualTo(c);
        await Assert.That(Written(b)).Contains("\"time_zone\":\"Europe/Berlin\"");
    }

    [Test]
    [Arguments("cron", "0 0 30 2 *")]
    [Arguments("cron", "61 * * * *")]
    [Arguments("cron", "")]
    [Arguments("time_zone", "Europe/Berlln")]
    [Arguments("end_at", "2030-03-01T12:30:00Z")] // "0 * * * *" has no fire time before 13:00
    public async Task Errors_name_the_member(string member, string text)
    {
        var members = new List<(string, string)> { ("cron", "0 * * * *") };
        members.RemoveAll(m => m.Item1 == member);
        members.Add((member, text));
        var (schedule, errors) = Read([.. members]);
        await Assert.That(schedule).IsNull();
        await Assert.That(errors.Keys).IsEquivalentTo(new[] { $"schedule.{member}" });
    }

    [Test]
    public async Task Slots_follow_the_zone_and_come_after_the_origin()
    {
        var schedule = Read(("cron", "30 2 * * *"), ("time_zone", "Europe/Berlin")).Schedule!;
        var origin = At("2030-03-30T12:00:00Z");
        // Before the origin: the first slot after it. In the spring gap, 02:30 fires at 03:00 CEST.
        await Assert.That(schedule.SlotAfter(At("2030-01-01T00:00:00Z"), origin)).IsEqualTo(At("2030-03-31T01:00:00Z"));
        await Assert.That(schedule.SlotAfter(At("2030-03-31T01:00:00Z"), origin)).IsEqualTo(At("2030-04-01T00:30:00Z"));
    }

    [Test]
    [Arguments("0 * * * *", "2030-03-01T15:20:00Z", "2030-03-01T00:00:00Z", "2030-03-01T15:00:00Z")]
    [Arguments("0 * * * *", "2030-03-01T15:00:00Z", "2030-03-01T00:00:00Z", "2030-03-01T15:00:00Z")]
    [Arguments("0 * * * *", "2030-03-01T15:20:00Z", "2030-03-01T15:00:01Z", null)]
    [Arguments("*/1 * * * * *", "2030-03-01T15:20:00.500Z", "2029-03-01T00:00:00Z", "2030-03-01T15:20:00Z")]
    [Arguments("0 0 1 1 *", "2030-03-01T15:20:00Z", "2029-03-01T00:00:00Z", "2030-01-01T00:00:00Z")]
    [Arguments("0 0 1 1 *", "2030-03-01T15:20:00Z", "2030-01-01T00:00:01Z", null)]
    public async Task The_latest_slot_at_or_before_an_instant(string cron, string t, string notBefore, string? expected)
    {
        var schedule = Read(("cron", cron)).Schedule!;
        var last = schedule.LastSlotAtOrBefore(At(t), At(notBefore), DateTimeOffset.MinValue.AddYears(1));
        await Assert.That(last).IsEqualTo(expected is null ? null : At(expected));
    }

    [Test]
    public async Task The_latest_every_slot_respects_the_grid_and_end_at()
    {
        var origin = At("2030-03-01T00:00:00Z");
        var every = new EverySchedule(Duration.FromSeconds(10), ScheduleOptions.None with { EndAt = At("2030-03-01T00:01:00Z") });
        await Assert.That(every.LastSlotAtOrBefore(At("2030-03-01T00:00:35Z"), origin, origin)).IsEqualTo(At("2030-03-01T00:00:30Z"));
        await Assert.That(every.LastSlotAtOrBefore(At("2030-03-01T00:05:00Z"), origin, origin)).IsEqualTo(At("2030-03-01T00:01:00Z"));
        await Assert.That(every.LastSlotAtOrBefore(At("2030-03-01T00:00:05Z"), origin, origin)).IsNull();
    }

    [Test]
    public async Task Local_times_carry_the_zones_offset()
    {
        TimeZones.TryFind("Europe/Berlin", out var berlin, out _);
        await Assert.That(Rfc3339.FormatLocal(At("2030-03-31T01:00:00Z"), berlin!)).IsEqualTo("2030-03-31T03:00:00+02:00");
        await Assert.That(Rfc3339.FormatLocal(At("2030-03-31T00:59:59.25Z"), berlin!)).IsEqualTo("2030-03-31T01:59:59.25+01:00");
        TimeZones.TryFind("America/St_Johns", out var newfoundland, out _);
        await Assert.That(Rfc3339.FormatLocal(At("2030-01-01T00:00:00Z"), newfoundland!)).IsEqualTo("2029-12-31T20:30:00-03:30");
        await Assert.That(Rfc3339.FormatLocal(At("2030-01-01T00:00:00Z"), TimeZoneInfo.Utc)).IsEqualTo("2030-01-01T00:00:00+00:00");
    }
}
