using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ksana.Tests.EndToEnd;

/// <summary>
/// Cron schedules (SPEC §7) on the published binary: a 6-field job on time at a callee, the restart
/// rules with and without catch_up, and zones on a box without a system time-zone database.
/// </summary>
public sealed class CronTests
{
    const string Key = "cron-key";

    static JsonObject Cron(string name, string url, string cron, string? zone = null, string? catchUp = null)
    {
        var job = JobDocs.Every(name, url, "1s");
        var schedule = new JsonObject { ["kind"] = "cron", ["cron"] = cron };
        if (zone is not null) schedule["time_zone"] = zone;
        if (catchUp is not null) schedule["catch_up"] = catchUp;
        job["schedule"] = schedule;
        return job;
    }

    static DateTimeOffset ScheduledAt(Recorded r) =>
        DateTimeOffset.Parse(JsonDocument.Parse(r.Body).RootElement.GetProperty("scheduled_at").GetString()!, CultureInfo.InvariantCulture);

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task A_six_field_job_every_two_seconds_fires_on_time()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys);
        using var api = ksana.Api(Key);
        var job = await api.CreateJobAsync(Cron("every-2s", callee.Url("/cron"), "*/2 * * * * *"));
        var calls = await callee.WaitForAsync("/cron", 3, TimeSpan.FromSeconds(10));
        var every = TimeSpan.FromSeconds(2);
        var epoch = DateTimeOffset.UnixEpoch;
        var described = Grid.Describe(calls, epoch, every);
        foreach (var call in calls.Take(3))
        {
            var slot = ScheduledAt(call);
            await Assert.That(slot.ToUnixTimeMilliseconds() % 2000).IsEqualTo(0L).Because(described);
            await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(slot - Grid.Early).Because(described);
            await Assert.That(call.ArrivedAt - slot).IsLessThanOrEqualTo(Grid.Tolerance).Because(described);
            await Assert.That(call.JobId).IsEqualTo(job["id"]!.GetValue<string>());
        }
        var slots = calls.Take(3).Select(ScheduledAt).ToArray();
        await Assert.That(slots[1] - slots[0]).IsEqualTo(every).Because(described);
        await Assert.That(slots[2] - slots[1]).IsEqualTo(every).Because(described);
        await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
    }

    [Test]
    public async Task After_a_restart_only_the_job_with_catch_up_makes_up_its_latest_missed_slot()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        DateTimeOffset stoppedAt;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api(Key);
            await api.CreateJobAsync(Cron("with", callee.Url("/with"), "*/3 * * * * *", catchUp: "1m"));
            await api.CreateJobAsync(Cron("without", callee.Url("/without"), "*/3 * * * * *"));
            await callee.WaitForAsync("/with", 1, TimeSpan.FromSeconds(8));
            await callee.WaitForAsync("/without", 1, TimeSpan.FromSeconds(8));
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
            stoppedAt = DateTimeOffset.UtcNow;
        }
        int withBefore = callee.RequestsTo("/with").Count, withoutBefore = callee.RequestsTo("/without").Count;
        await Task.Delay(TimeSpan.FromSeconds(4.5)); // at least one slot of */3 passes while down

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            var launchedAt = ksana.LaunchedAt;
            var readyAt = ksana.ReadyAt!.Value;
            var with = (await callee.WaitForAsync("/with", withBefore + 2, TimeSpan.FromSeconds(8))).Skip(withBefore).ToArray();
            var without = (await callee.WaitForAsync("/without", withoutBefore + 1, TimeSpan.FromSeconds(8))).Skip(withoutBefore).ToArray();
            var story = $"stopped {Rfc3339.Format(stoppedAt)}, launched {Rfc3339.Format(launchedAt)}, ready {Rfc3339.Format(readyAt)}\nwith: "
                + string.Join(", ", with.Select(r => $"{Rfc3339.Format(ScheduledAt(r))} at {Rfc3339.Format(r.ArrivedAt)}"))
                + "\nwithout: " + string.Join(", ", without.Select(r => $"{Rfc3339.Format(ScheduledAt(r))} at {Rfc3339.Format(r.ArrivedAt)}"));
            // The made-up run: the latest slot due when Ksana came back (it recovers somewhere between
            // launch and its first healthy answer; a slot may come due in between on a busy machine),
            // started as soon as it was back.
            var madeUp = with[0];
            static DateTimeOffset LastSlotAtOrBefore(DateTimeOffset t) =>
                new(t.UtcTicks - t.UtcTicks % (3 * TimeSpan.TicksPerSecond), TimeSpan.Zero);
            await Assert.That(ScheduledAt(madeUp)).IsGreaterThan(stoppedAt).Because(story);
            await Assert.That(ScheduledAt(madeUp)).IsGreaterThanOrEqualTo(LastSlotAtOrBefore(launchedAt)).Because(story);
            await Assert.That(ScheduledAt(madeUp)).IsLessThanOrEqualTo(LastSlotAtOrBefore(readyAt)).Because(story);
            await Assert.That(ScheduledAt(madeUp)).IsLessThanOrEqualTo(madeUp.ArrivedAt).Because(story);
            await Assert.That(madeUp.ArrivedAt - readyAt).IsLessThan(TimeSpan.FromSeconds(3)).Because(story);
            if (LastSlotAtOrBefore(launchedAt) == LastSlotAtOrBefore(readyAt))
                await Assert.That(with.Count(r => ScheduledAt(r) < launchedAt)).IsEqualTo(1).Because(story);
            await Assert.That(ScheduledAt(with[1]) - ScheduledAt(with[0])).IsGreaterThan(TimeSpan.Zero).Because(story);
            // Without catch_up nothing missed while down is run.
            await Assert.That(without.Count(r => ScheduledAt(r) < launchedAt)).IsEqualTo(0).Because(story);
            var all = callee.RequestsTo("/with");
            await Assert.That(all.Select(ScheduledAt).Distinct().Count()).IsEqualTo(all.Count).Because(story);
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
        }
    }

    [Test]
    public async Task Zones_work_without_a_system_time_zone_database()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        var empty = Path.Combine(dir.Path, "no-zoneinfo");
        Directory.CreateDirectory(empty);
        var env = new Dictionary<string, string> { ["TZDIR"] = empty, ["TZ"] = "Europe/Berlin" };
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys, env);
        using var api = ksana.Api(Key);
        var job = await api.CreateJobAsync(Cron("berlin", "http://127.0.0.1:9/never", "30 2 * * *", "Europe/Berlin"));
        await Assert.That(job["schedule"]!["time_zone"]!.GetValue<string>()).IsEqualTo("Europe/Berlin");
        var id = job["id"]!.GetValue<string>();
        var (status, body, _) = await api.SendAsync(HttpMethod.Get, $"/jobs/{id}/upcoming?count=100");
        await Assert.That(status).IsEqualTo(200);
        // Checked against the test process's own zone data: 02:30 on Berlin's wall clock, with its offset.
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        foreach (var item in body!["upcoming"]!.AsArray())
        {
            var at = DateTimeOffset.Parse(item!["at"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            var local = item["local"]!.GetValue<string>();
            var expected = TimeZoneInfo.ConvertTime(at, berlin);
            await Assert.That(local).IsEqualTo(expected.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture));
            await Assert.That(expected.Hour * 60 + expected.Minute).IsEqualTo(expected.Offset == TimeSpan.FromHours(2) && expected.Hour == 3 ? 180 : 150).Because(local);
        }
        var unknown = await api.SendAsync(HttpMethod.Post, "/schedules/preview", "{\"schedule\":{\"kind\":\"cron\",\"cron\":\"0 9 * * *\",\"time_zone\":\"Asia/Shanghia\"}}");
        await Assert.That(unknown.Status).IsEqualTo(400);
        await Assert.That(unknown.Errors["schedule.time_zone"]![0]!.GetValue<string>()).Contains("Asia/Shanghai");

        var (code, stdout, _) = await KsanaProcess.RunToExitAsync(dir.Data, KsanaProcess.FreePort(), null, ["--version"], TimeSpan.FromSeconds(15));
        await Assert.That(code).IsEqualTo(0);
        await Assert.That(stdout).Contains("tz data 20");
        await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
    }
}
