using System.Globalization;
using Ksana.Scheduling.Cron;

namespace Ksana.Tests.Unit.Cron;

/// <summary>
/// Next fire times as tables of literal instants (no clock). Each row: expression, zone, the
/// instant asked after, and the expected next fire time, both written with the zone's offset
/// so that a reader can check the wall clock.
/// </summary>
public class CronNextTests
{
    static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture);

    static CronExpression Cron(string text)
    {
        if (!CronExpression.TryParse(text, out var cron, out var error)) throw new InvalidOperationException(error);
        return cron!;
    }

    static TimeZoneInfo Zone(string name)
    {
        if (!TimeZones.TryFind(name, out var zone, out var error)) throw new InvalidOperationException(error);
        return zone!;
    }

    static async Task Expect(string cron, string zone, string after, string? expected)
    {
        var next = Cron(cron).NextAfter(At(after), Zone(zone));
        await Assert.That(next).IsEqualTo(expected is null ? null : At(expected));
        if (next is { } n) await Assert.That(n.Offset).IsEqualTo(TimeSpan.Zero);
    }

    [Test]
    // Plain schedules in UTC, strictly after, whole seconds.
    [Arguments("30 2 * * *", "UTC", "2025-03-10T00:00:00Z", "2025-03-10T02:30:00Z")]
    [Arguments("30 2 * * *", "UTC", "2025-03-10T02:30:00Z", "2025-03-11T02:30:00Z")]
    [Arguments("30 2 * * *", "UTC", "2025-03-10T02:29:59.999Z", "2025-03-10T02:30:00Z")]
    [Arguments("*/15 * * * *", "UTC", "2025-03-10T10:07:13.5Z", "2025-03-10T10:15:00Z")]
    [Arguments("0 9 * * MON-FRI", "UTC", "2025-03-14T09:00:00Z", "2025-03-17T09:00:00Z")]
    [Arguments("0 0 1 JAN,jul *", "UTC", "2025-01-01T00:00:00Z", "2025-07-01T00:00:00Z")]
    [Arguments("0 12 * * 7", "UTC", "2025-03-10T00:00:00Z", "2025-03-16T12:00:00Z")]
    [Arguments("0 12 * * 0", "UTC", "2025-03-10T00:00:00Z", "2025-03-16T12:00:00Z")]
    [Arguments("0 12 ? * sun", "UTC", "2025-03-10T00:00:00Z", "2025-03-16T12:00:00Z")]
    [Arguments("5-10/2 * * * *", "UTC", "2025-03-10T00:07:00Z", "2025-03-10T00:09:00Z")]
    [Arguments("50/5 * * * *", "UTC", "2025-03-10T00:56:00Z", "2025-03-10T01:50:00Z")]
    [Arguments("59 23 31 12 *", "UTC", "2025-12-31T23:59:00Z", "2026-12-31T23:59:00Z")]
    // Six fields: seconds first.
    [Arguments("*/10 * * * * *", "UTC", "2025-03-10T00:00:05Z", "2025-03-10T00:00:10Z")]
    [Arguments("30 0 0 * * *", "UTC", "2025-03-10T00:00:30Z", "2025-03-11T00:00:30Z")]
    [Arguments("15,45 * * * * *", "UTC", "2025-03-10T00:00:45Z", "2025-03-10T00:01:15Z")]
    [Arguments("* * * * * *", "UTC", "2025-03-10T00:00:00.001Z", "2025-03-10T00:00:01Z")]
    // February 29 fires in leap years only.
    [Arguments("0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z")]
    [Arguments("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z")]
    // L, L-n, LW, nW, dL, d#n.
    [Arguments("0 0 L * *", "UTC", "2025-02-01T00:00:00Z", "2025-02-28T00:00:00Z")]
    [Arguments("0 0 L * *", "UTC", "2024-02-01T00:00:00Z", "2024-02-29T00:00:00Z")]
    [Arguments("0 0 L-2 * *", "UTC", "2025-04-01T00:00:00Z", "2025-04-28T00:00:00Z")]
    [Arguments("0 0 LW * *", "UTC", "2025-05-01T00:00:00Z", "2025-05-30T00:00:00Z")] // 31 May 2025 is a Saturday
    [Arguments("0 0 LW * *", "UTC", "2025-08-01T00:00:00Z", "2025-08-29T00:00:00Z")] // 31 Aug 2025 is a Sunday
    [Arguments("0 0 15W * *", "UTC", "2025-03-01T00:00:00Z", "2025-03-14T00:00:00Z")] // 15 Mar 2025 is a Saturday
    [Arguments("0 0 15W * *", "UTC", "2025-06-01T00:00:00Z", "2025-06-16T00:00:00Z")] // 15 Jun 2025 is a Sunday
    [Arguments("0 0 15W * *", "UTC", "2025-07-01T00:00:00Z", "2025-07-15T00:00:00Z")] // a Tuesday
    [Arguments("0 0 1W * *", "UTC", "2025-02-04T00:00:00Z", "2025-03-03T00:00:00Z")] // 1 Mar 2025 is a Saturday: Monday the 3rd
    [Arguments("0 0 31W * *", "UTC", "2025-08-01T00:00:00Z", "2025-08-29T00:00:00Z")] // 31 Aug is a Sunday: back to Friday
    [Arguments("0 0 31W * *", "UTC", "2025-04-01T00:00:00Z", "2025-05-30T00:00:00Z")] // none in April; 31 May is a Saturday
    [Arguments("0 0 * * 5L", "UTC", "2025-03-01T00:00:00Z", "2025-03-28T00:00:00Z")]
    [Arguments("0 0 * * FRIL", "UTC", "2025-03-28T00:00:00Z", "2025-04-25T00:00:00Z")]
    [Arguments("0 0 * * 1#3", "UTC", "2025-03-01T00:00:00Z", "2025-03-17T00:00:00Z")]
    [Arguments("0 0 * * MON#3", "UTC", "2025-03-17T00:00:00Z", "2025-04-21T00:00:00Z")]
    [Arguments("0 0 * * 4#5", "UTC", "2025-02-01T00:00:00Z", "2025-05-29T00:00:00Z")]
    [Arguments("0 0 * 2 5#5", "UTC", "2025-01-01T00:00:00Z", "2036-02-29T00:00:00Z")]
    // The POSIX OR rule: both day fields restricted, either matches.
    [Arguments("0 0 13 * FRI", "UTC", "2025-06-01T00:00:00Z", "2025-06-06T00:00:00Z")] // the first Friday
    [Arguments("0 0 13 * FRI", "UTC", "2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z")] // the 13th, a Friday
    [Arguments("0 0 13 * FRI", "UTC", "2025-06-27T00:00:00Z", "2025-07-04T00:00:00Z")]
    [Arguments("0 0 13 * FRI", "UTC", "2025-07-11T00:00:00Z", "2025-07-13T00:00:00Z")] // the 13th, a Sunday
    [Arguments("0 0 1 * 1", "UTC", "2025-09-23T00:00:00Z", "2025-09-29T00:00:00Z")]
    [Arguments("0 0 1 * 1", "UTC", "2025-09-29T00:00:00Z", "2025-10-01T00:00:00Z")]
    [Arguments("0 0 L * 1#1", "UTC", "2025-09-01T00:00:00Z", "2025-09-30T00:00:00Z")]
    [Arguments("0 0 L * 1#1", "UTC", "2025-09-30T00:00:00Z", "2025-10-06T00:00:00Z")]
    // Only one day field restricted: the other does not widen it.
    [Arguments("0 0 13 * *", "UTC", "2025-06-01T00:00:00Z", "2025-06-13T00:00:00Z")]
    [Arguments("0 0 13 * ?", "UTC", "2025-06-01T00:00:00Z", "2025-06-13T00:00:00Z")]
    [Arguments("0 0 ? * FRI", "UTC", "2025-06-01T00:00:00Z", "2025-06-06T00:00:00Z")]
    // Macros.
    [Arguments("@yearly", "UTC", "2025-06-01T00:00:00Z", "2026-01-01T00:00:00Z")]
    [Arguments("@annually", "UTC", "2025-06-01T00:00:00Z", "2026-01-01T00:00:00Z")]
    [Arguments("@monthly", "UTC", "2025-06-01T00:00:00Z", "2025-07-01T00:00:00Z")]
    [Arguments("@weekly", "UTC", "2025-06-01T00:00:00Z", "2025-06-08T00:00:00Z")] // 1 Jun 2025 is a Sunday
    [Arguments("@daily", "UTC", "2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z")]
    [Arguments("@midnight", "UTC", "2025-06-01T12:00:00Z", "2025-06-02T00:00:00Z")]
    [Arguments("@HOURLY", "UTC", "2025-06-01T12:00:00Z", "2025-06-01T13:00:00Z")]
    // Zones without daylight saving time now.
    [Arguments("30 2 * * *", "Asia/Shanghai", "2025-03-10T00:00:00+08:00", "2025-03-10T02:30:00+08:00")]
    [Arguments("0 0 * * *", "Asia/Shanghai", "2025-06-30T15:00:00Z", "2025-07-01T00:00:00+08:00")]
    [Arguments("@monthly", "Asia/Shanghai", "2025-12-15T00:00:00+08:00", "2026-01-01T00:00:00+08:00")]
    // Shanghai kept summer time in 1986-1991: 14 April 1991 02:00 → 03:00, 15 September 02:00 → 01:00.
    [Arguments("30 2 * * *", "Asia/Shanghai", "1991-04-14T00:00:00+08:00", "1991-04-14T03:00:00+09:00")]
    [Arguments("30 1 * * *", "Asia/Shanghai", "1991-09-15T00:00:00+09:00", "1991-09-15T01:30:00+09:00")]
    [Arguments("30 1 * * *", "Asia/Shanghai", "1991-09-15T01:30:00+09:00", "1991-09-16T01:30:00+08:00")]
    [Arguments("*/30 1 * * *", "Asia/Shanghai", "1991-09-15T01:30:00+09:00", "1991-09-15T01:00:00+08:00")]
    // Across the UTC new year, where the zone survey starts a new span.
    [Arguments("0 0 1 1 *", "Pacific/Kiritimati", "2025-12-31T00:00:00Z", "2026-01-01T00:00:00+14:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2025-12-31T23:45:00Z", "2026-01-01T01:00:00+01:00")]
    [Arguments("0 0 1 1 *", "America/New_York", "2025-12-31T23:59:59-05:00", "2026-01-01T00:00:00-05:00")]
    // Nothing after the end of the calendar.
    [Arguments("* * * * *", "UTC", "9999-06-01T00:00:00Z", null)]
    [Arguments("0 0 1 1 *", "Europe/Berlin", "9997-06-01T00:00:00Z", null)]
    public async Task Next_fire_time(string cron, string zone, string after, string? expected) =>
        await Expect(cron, zone, after, expected);

    [Test]
    // Berlin, spring: 30 March 2025 02:00 CET → 03:00 CEST. Matches in the gap fire once at 03:00.
    [Arguments("30 2 * * *", "Europe/Berlin", "2025-03-29T02:30:00+01:00", "2025-03-30T03:00:00+02:00")]
    [Arguments("30 2 * * *", "Europe/Berlin", "2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2025-03-30T01:30:00+01:00", "2025-03-30T03:00:00+02:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2025-03-30T03:00:00+02:00", "2025-03-30T03:30:00+02:00")]
    [Arguments("0 2 * * *", "Europe/Berlin", "2025-03-30T01:59:59+01:00", "2025-03-30T03:00:00+02:00")]
    [Arguments("0 2 * * *", "Europe/Berlin", "2025-03-30T01:59:59.5+01:00", "2025-03-30T03:00:00+02:00")]
    [Arguments("0 2 * * *", "Europe/Berlin", "2025-03-30T03:00:00+02:00", "2025-03-31T02:00:00+02:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2025-03-30T01:59:59+01:00", "2025-03-30T03:00:00+02:00")]
    [Arguments("59 2 * * *", "Europe/Berlin", "2025-03-30T01:00:00+01:00", "2025-03-30T03:00:00+02:00")]
    [Arguments("0 3 * * *", "Europe/Berlin", "2025-03-30T01:00:00+01:00", "2025-03-30T03:00:00+02:00")]
    [Arguments("0 3 * * *", "Europe/Berlin", "2025-03-30T03:00:00+02:00", "2025-03-31T03:00:00+02:00")]
    [Arguments("15 2 30 3 *", "Europe/Berlin", "2025-01-01T00:00:00+01:00", "2025-03-30T03:00:00+02:00")]
    [Arguments("0 * * * *", "Europe/Berlin", "2025-03-30T01:00:00+01:00", "2025-03-30T03:00:00+02:00")]
    [Arguments("30 * * * * *", "Europe/Berlin", "2025-03-30T01:59:30+01:00", "2025-03-30T03:00:00+02:00")]
    // Berlin, autumn: 26 October 2025 03:00 CEST → 02:00 CET; 02:00-02:59 happens twice.
    [Arguments("30 2 * * *", "Europe/Berlin", "2025-10-26T01:00:00+02:00", "2025-10-26T02:30:00+02:00")]
    [Arguments("30 2 * * *", "Europe/Berlin", "2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00")]
    [Arguments("30 2 * * *", "Europe/Berlin", "2025-10-26T02:10:00+01:00", "2025-10-27T02:30:00+01:00")]
    [Arguments("0,30 2 * * *", "Europe/Berlin", "2025-10-26T02:30:00+02:00", "2025-10-27T02:00:00+01:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2025-10-26T02:00:00+02:00", "2025-10-26T02:30:00+02:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2025-10-26T02:30:00+02:00", "2025-10-26T02:00:00+01:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2025-10-26T02:00:00+01:00", "2025-10-26T02:30:00+01:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2025-10-26T02:30:00+01:00", "2025-10-26T03:00:00+01:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2025-10-26T02:45:00+02:00", "2025-10-26T02:00:00+01:00")]
    [Arguments("30 2-3 * * *", "Europe/Berlin", "2025-10-26T02:30:00+02:00", "2025-10-26T02:30:00+01:00")]
    [Arguments("@hourly", "Europe/Berlin", "2025-10-26T02:00:00+02:00", "2025-10-26T02:00:00+01:00")]
    [Arguments("@daily", "Europe/Berlin", "2025-10-25T12:00:00+02:00", "2025-10-26T00:00:00+02:00")]
    [Arguments("@daily", "Europe/Berlin", "2025-10-26T00:00:00+02:00", "2025-10-27T00:00:00+01:00")]
    [Arguments("0 3 * * *", "Europe/Berlin", "2025-10-26T02:59:59+02:00", "2025-10-26T03:00:00+01:00")]
    [Arguments("0 0 2 * * *", "Europe/Berlin", "2025-10-26T02:00:00+02:00", "2025-10-27T02:00:00+01:00")]
    [Arguments("*/20 * 2 * * *", "Europe/Berlin", "2025-10-26T02:59:40+02:00", "2025-10-26T02:00:00+01:00")]
    // New York, spring: 9 March 2025 02:00 EST → 03:00 EDT; autumn: 2 November 2025 02:00 EDT → 01:00 EST.
    [Arguments("30 2 * * *", "America/New_York", "2025-03-08T12:00:00-05:00", "2025-03-09T03:00:00-04:00")]
    [Arguments("*/15 * * * *", "America/New_York", "2025-03-09T01:45:00-05:00", "2025-03-09T03:00:00-04:00")]
    [Arguments("30 1 * * *", "America/New_York", "2025-11-01T12:00:00-04:00", "2025-11-02T01:30:00-04:00")]
    [Arguments("30 1 * * *", "America/New_York", "2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00")]
    [Arguments("*/30 1 * * *", "America/New_York", "2025-11-02T01:30:00-04:00", "2025-11-02T01:00:00-05:00")]
    [Arguments("0 9 * * MON-FRI", "America/New_York", "2025-11-01T00:00:00-04:00", "2025-11-03T09:00:00-05:00")]
    // Lord Howe shifts by 30 minutes: 6 April 2025 02:00 +11 → 01:30 +10:30; 5 October 2025 02:00 +10:30 → 02:30 +11.
    [Arguments("15 2 * * *", "Australia/Lord_Howe", "2025-10-05T00:00:00+10:30", "2025-10-05T02:30:00+11:00")]
    [Arguments("*/10 * * * *", "Australia/Lord_Howe", "2025-10-05T01:50:00+10:30", "2025-10-05T02:30:00+11:00")]
    [Arguments("45 1 * * *", "Australia/Lord_Howe", "2025-04-05T12:00:00+11:00", "2025-04-06T01:45:00+11:00")]
    [Arguments("45 1 * * *", "Australia/Lord_Howe", "2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30")]
    [Arguments("*/15 * * * *", "Australia/Lord_Howe", "2025-04-06T01:45:00+11:00", "2025-04-06T01:30:00+10:30")]
    [Arguments("*/15 * * * *", "Australia/Lord_Howe", "2025-04-06T01:45:00+10:30", "2025-04-06T02:00:00+10:30")]
    // A year past the tz table, so the zone's footer rule decides: Berlin in 2087 (30 March, 26 October).
    [Arguments("30 2 * * *", "Europe/Berlin", "2087-03-29T12:00:00+01:00", "2087-03-30T03:00:00+02:00")]
    [Arguments("*/30 * * * *", "Europe/Berlin", "2087-10-26T02:30:00+02:00", "2087-10-26T02:00:00+01:00")]
    public async Task Daylight_saving_transitions(string cron, string zone, string after, string? expected) =>
        await Expect(cron, zone, after, expected);

    [Test]
    public async Task Every_half_hour_walks_through_the_repeated_hour_in_both_passes()
    {
        var cron = Cron("*/30 * * * *");
        var berlin = Zone("Europe/Berlin");
        var t = At("2025-10-26T01:00:00+02:00");
        var fired = new List<DateTimeOffset>();
        for (int i = 0; i < 6; i++) fired.Add(t = cron.NextAfter(t, berlin)!.Value);
        string[] expected =
        [
            "2025-10-26T01:30:00+02:00", "2025-10-26T02:00:00+02:00", "2025-10-26T02:30:00+02:00",
            "2025-10-26T02:00:00+01:00", "2025-10-26T02:30:00+01:00", "2025-10-26T03:00:00+01:00",
        ];
        await Assert.That(fired).IsEquivalentTo(expected.Select(At));
    }

    [Test]
    public async Task Every_half_hour_fires_once_for_the_gap()
    {
        var cron = Cron("*/30 * * * *");
        var berlin = Zone("Europe/Berlin");
        var t = At("2025-03-30T01:00:00+01:00");
        var fired = new List<DateTimeOffset>();
        for (int i = 0; i < 3; i++) fired.Add(t = cron.NextAfter(t, berlin)!.Value);
        string[] expected = ["2025-03-30T01:30:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-30T03:30:00+02:00"];
        await Assert.That(fired).IsEquivalentTo(expected.Select(At));
    }

    [Test]
    public async Task A_year_of_fire_times_in_Berlin_has_no_duplicates_and_matches_the_wall_clock()
    {
        // Every hour at :20 for a year: 8760 wall-clock hours; 02:20 on 30 March does not exist
        // and fires at 03:00 instead, and 02:20 on 26 October fires twice (hour is *, so this is
        // an interval expression).
        var cron = Cron("20 * * * *");
        var berlin = Zone("Europe/Berlin");
        var t = At("2025-01-01T00:00:00+01:00");
        var end = At("2026-01-01T00:00:00+01:00");
        int count = 0;
        DateTimeOffset previous = t;
        while (cron.NextAfter(t, berlin) is { } next && next < end)
        {
            await Assert.That(next).IsGreaterThan(previous);
            var wall = TimeZoneInfo.ConvertTime(next, berlin);
            if (wall.Minute != 20) await Assert.That(wall.ToString("O", CultureInfo.InvariantCulture)).IsEqualTo("2025-03-30T03:00:00.0000000+02:00");
            previous = t = next;
            count++;
        }
        await Assert.That(count).IsEqualTo(8761);
    }
}
