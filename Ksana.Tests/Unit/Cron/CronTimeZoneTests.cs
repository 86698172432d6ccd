using System.Globalization;
using Ksana.Scheduling.Cron;

namespace Ksana.Tests.Unit.Cron;

public class CronTimeZoneTests
{
    static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture);

    [Test]
    [Arguments("Europe/Berlin", "2025-01-15T12:00:00Z", "01:00:00")]
    [Arguments("Europe/Berlin", "2025-07-15T12:00:00Z", "02:00:00")]
    [Arguments("America/New_York", "2025-01-15T12:00:00Z", "-05:00:00")]
    [Arguments("America/New_York", "2025-07-15T12:00:00Z", "-04:00:00")]
    [Arguments("Australia/Lord_Howe", "2025-01-15T12:00:00Z", "11:00:00")]
    [Arguments("Australia/Lord_Howe", "2025-07-15T12:00:00Z", "10:30:00")]
    [Arguments("Asia/Shanghai", "2025-07-15T12:00:00Z", "08:00:00")]
    [Arguments("Asia/Kolkata", "2025-07-15T12:00:00Z", "05:30:00")]
    [Arguments("UTC", "2025-07-15T12:00:00Z", "00:00:00")]
    [Arguments("Etc/UTC", "2025-07-15T12:00:00Z", "00:00:00")]
    // Links resolve to their zone's rules.
    [Arguments("US/Eastern", "2025-07-15T12:00:00Z", "-04:00:00")]
    [Arguments("Asia/Calcutta", "2025-07-15T12:00:00Z", "05:30:00")]
    // Names may differ in case only.
    [Arguments("europe/berlin", "2025-07-15T12:00:00Z", "02:00:00")]
    [Arguments("utc", "2025-07-15T12:00:00Z", "00:00:00")]
    public async Task Zones_have_the_offsets_of_the_tz_data(string name, string instant, string offset)
    {
        await Assert.That(TimeZones.TryFind(name, out var zone, out var error)).IsTrue();
        await Assert.That(error).IsNull();
        await Assert.That(zone!.GetUtcOffset(At(instant))).IsEqualTo(TimeSpan.Parse(offset, CultureInfo.InvariantCulture));
    }

    [Test]
    public async Task Case_insensitive_matches_take_the_IANA_spelling_and_are_cached()
    {
        TimeZones.TryFind("america/new_york", out var asked, out _);
        TimeZones.TryFind("America/New_York", out var exact, out _);
        await Assert.That(asked!.Id).IsEqualTo("America/New_York");
        await Assert.That(ReferenceEquals(asked, exact)).IsTrue();
    }

    [Test]
    [Arguments("Europe/Berln", "unknown time zone 'Europe/Berln'; did you mean Europe/Berlin?")]
    [Arguments("Berlin", "unknown time zone 'Berlin'; did you mean Europe/Berlin?")]
    [Arguments("America/NewYork", "unknown time zone 'America/NewYork'; did you mean America/New_York?")]
    [Arguments("Asia/Shangai", "unknown time zone 'Asia/Shangai'; did you mean Asia/Shanghai?")]
    [Arguments("Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'; use an IANA name such as Europe/Berlin, or UTC")]
    [Arguments("", "the time zone is empty; use an IANA name such as Europe/Berlin, or UTC")]
    public async Task Unknown_zones_suggest_close_names(string name, string expected)
    {
        await Assert.That(TimeZones.TryFind(name, out var zone, out var error)).IsFalse();
        await Assert.That(zone).IsNull();
        await Assert.That(error).IsEqualTo(expected);
    }

    [Test]
    public async Task A_very_long_unknown_name_is_cut_in_the_message()
    {
        string name = new('x', 5000);
        await Assert.That(TimeZones.TryFind(name, out _, out var error)).IsFalse();
        await Assert.That(error!.Length).IsLessThan(200);
    }

    [Test]
    public async Task The_data_version_is_an_IANA_release()
    {
        await Assert.That(TimeZones.DataVersion).Matches(@"^\d{4}[a-z]$");
        await Assert.That(TimeZones.Names.Count).IsGreaterThan(400);
        await Assert.That(TimeZones.Names).DoesNotContain(n => n.StartsWith("posix/") || n.StartsWith("right/"));
    }

    [Test]
    public async Task Zones_load_from_the_binary_when_TZDIR_points_at_an_empty_directory()
    {
        // If anything read the system database, an empty TZDIR would make it fail or fall back
        // to UTC; the embedded data must give the right offsets regardless. The environment is
        // process-wide, so it is restored at once; other tests never depend on TZDIR.
        string empty = Directory.CreateTempSubdirectory("ksana-tzdir-").FullName;
        string? before = Environment.GetEnvironmentVariable("TZDIR");
        TimeZoneInfo berlin, howe;
        try
        {
            Environment.SetEnvironmentVariable("TZDIR", empty);
            berlin = TimeZones.LoadUncached("Europe/Berlin");
            howe = TimeZones.LoadUncached("Australia/Lord_Howe");
        }
        finally
        {
            Environment.SetEnvironmentVariable("TZDIR", before);
            Directory.Delete(empty);
        }
        await Assert.That(berlin.GetUtcOffset(At("2025-07-15T12:00:00Z"))).IsEqualTo(TimeSpan.FromHours(2));
        await Assert.That(howe.GetUtcOffset(At("2025-07-15T12:00:00Z"))).IsEqualTo(TimeSpan.FromHours(10.5));
        CronExpression.TryParse("30 2 * * *", out var cron, out _);
        await Assert.That(cron!.NextAfter(At("2025-03-29T12:00:00Z"), berlin)).IsEqualTo(At("2025-03-30T03:00:00+02:00"));
    }

    [Test]
    public async Task Every_embedded_zone_loads()
    {
        foreach (string name in TimeZones.Names)
        {
            bool ok = TimeZones.TryFind(name, out var zone, out var error);
            if (!ok) throw new InvalidOperationException($"{name}: {error}");
            _ = zone!.GetUtcOffset(At("2025-07-15T12:00:00Z"));
        }
        await Assert.That(TimeZones.Names).Contains("Europe/Berlin");
    }
}
