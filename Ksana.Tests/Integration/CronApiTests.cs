using System.Globalization;
using System.Text.Json.Nodes;

namespace Ksana.Tests.Integration;

/// <summary>Cron jobs, upcoming and preview (SPEC §4, §7) over real HTTP.</summary>
public sealed class CronApiTests
{
    static JsonObject CronJob(string cron, string? zone = null, string url = "http://127.0.0.1:9/never")
    {
        var schedule = new JsonObject { ["kind"] = "cron", ["cron"] = cron };
        if (zone is not null) schedule["time_zone"] = zone;
        return new JsonObject { ["name"] = "cron", ["http"] = new JsonObject { ["method"] = "POST", ["url"] = url }, ["schedule"] = schedule };
    }

    static DateTimeOffset Time(JsonNode? node) => DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture);

    [Test]
    public async Task A_cron_job_is_created_with_its_expression_as_given_and_its_zone_written_back()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(CronJob("30 2 * * mon-fri"));
        await Assert.That(job["schedule"]!.ToJsonString()).IsEqualTo("{\"kind\":\"cron\",\"cron\":\"30 2 * * mon-fri\",\"time_zone\":\"UTC\"}");
        await Assert.That(job["state"]!.GetValue<string>()).IsEqualTo("scheduled");
        var next = Time(job["next_run_at"]);
        await Assert.That(next.Hour * 60 + next.Minute).IsEqualTo(2 * 60 + 30);

        var berlin = await ksana.CreateJobAsync(CronJob("@daily", "europe/berlin"));
        await Assert.That(berlin["schedule"]!["time_zone"]!.GetValue<string>()).IsEqualTo("Europe/Berlin");
        var again = await ksana.GetJsonAsync($"/jobs/{berlin["id"]}");
        await Assert.That(again["schedule"]!.ToJsonString()).IsEqualTo(berlin["schedule"]!.ToJsonString());
    }

    public static IEnumerable<Func<(string Case, string Cron)>> BadExpressions() =>
        new (string, string)[]
        {
            ("too few fields", "* * * *"),
            ("too many fields", "0 0 * * * * *"),
            ("minute out of range", "60 * * * *"),
            ("hour out of range", "0 24 * * *"),
            ("day-of-month 0", "0 0 0 * *"),
            ("month 13", "0 0 1 13 *"),
            ("bad month name", "0 0 1 FOO *"),
            ("bad weekday name", "0 0 * * FUNDAY"),
            ("step /0", "*/0 * * * *"),
            ("L in the hour field", "0 L * * *"),
            ("#6", "0 0 * * MON#6"),
            ("empty", ""),
            ("blank", "   "),
            ("10 000 characters", string.Concat(Enumerable.Repeat("1,", 5000))),
            ("control character", "0 0\u0001 * * *"),
            ("newline", "0 0 * * *\n0 1 * * *"),
            ("never fires", "0 0 30 2 *"),
            ("unknown macro", "@fortnightly"),
        }.Select(c => (Func<(string, string)>)(() => c));

    [Test]
    [MethodDataSource(nameof(BadExpressions))]
    public async Task A_malformed_expression_is_a_400_naming_schedule_cron(string @case, string cron)
    {
        await using var ksana = await KsanaServer.StartAsync();
        var answer = await Answer.Of(ksana.PostAsync("/jobs", CronJob(cron)));
        await Assert.That(answer.Status).IsEqualTo(400).Because(@case);
        await Assert.That(answer.Errors.Select(e => e.Key)).IsEquivalentTo(new[] { "schedule.cron" }).Because(answer.Body);
        var preview = await Answer.Of(ksana.PostAsync("/schedules/preview", new JsonObject { ["schedule"] = CronJob(cron)["schedule"]!.DeepClone() }));
        await Assert.That(preview.Status).IsEqualTo(400);
        await Assert.That(preview.Errors.ToJsonString()).IsEqualTo(answer.Errors.ToJsonString());
        await Assert.That((await ksana.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Count).IsEqualTo(0);
    }

    [Test]
    public async Task An_unknown_zone_is_a_400_naming_schedule_time_zone_with_a_suggestion()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var answer = await Answer.Of(ksana.PostAsync("/jobs", CronJob("0 9 * * *", "Europe/Berln")));
        await Assert.That(answer.Status).IsEqualTo(400);
        await Assert.That(answer.Errors.Select(e => e.Key)).IsEquivalentTo(new[] { "schedule.time_zone" });
        await Assert.That(answer.Errors["schedule.time_zone"]!.ToJsonString()).Contains("Europe/Berlin");
        var number = await Answer.Of(ksana.PostAsync("/jobs", CronJob("0 9 * * *").Also(j => j["schedule"]!["time_zone"] = 1)));
        await Assert.That(number.Errors.Select(e => e.Key)).IsEquivalentTo(new[] { "schedule.time_zone" });
    }

    [Test]
    public async Task Members_another_kind_owns_and_jitter_over_an_hour_are_400s()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var every = await Answer.Of(ksana.PostAsync("/jobs", CronJob("0 9 * * *").Also(j => j["schedule"]!["every"] = "5m")));
        await Assert.That(every.Errors.Select(e => e.Key)).IsEquivalentTo(new[] { "schedule.every" });
        var jitter = await Answer.Of(ksana.PostAsync("/jobs", CronJob("0 9 * * *").Also(j => j["schedule"]!["jitter"] = "61m")));
        await Assert.That(jitter.Errors.Select(e => e.Key)).IsEquivalentTo(new[] { "schedule.jitter" });
    }

    [Test]
    public async Task Upcoming_preview_and_next_run_at_agree()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var schedule = new JsonObject { ["kind"] = "cron", ["cron"] = "*/7 * * * * *", ["time_zone"] = "America/St_Johns" };
        var job = await ksana.CreateJobAsync(CronJob("x").Also(j => j["schedule"] = schedule.DeepClone()));
        var id = job["id"]!.GetValue<string>();
        var upcoming = (await ksana.GetJsonAsync($"/jobs/{id}/upcoming?count=5"))["upcoming"]!.AsArray();
        var preview = (await (await ksana.PostAsync("/schedules/preview", new JsonObject { ["schedule"] = schedule.DeepClone(), ["count"] = 5 }))
            .Content.ReadFromJsonNodeAsync())["upcoming"]!.AsArray();
        await Assert.That(upcoming.Count).IsEqualTo(5);
        await Assert.That(preview.Count).IsEqualTo(5);
        // Same seconds of the minute (0, 7, …, 56); the job's list starts at its next_run_at.
        var jobAgain = await ksana.GetJsonAsync($"/jobs/{id}");
        var first = Time(upcoming[0]!["at"]);
        await Assert.That(first).IsGreaterThanOrEqualTo(Time(job["next_run_at"]));
        foreach (var list in new[] { upcoming, preview })
            foreach (var item in list)
            {
                var at = Time(item!["at"]);
                await Assert.That(at.Second % 7).IsEqualTo(0);
                await Assert.That(item["at"]!.GetValue<string>()).EndsWith("Z");
                // Newfoundland is 3.5 hours behind UTC in winter, 2.5 in summer.
                var local = item["local"]!.GetValue<string>();
                await Assert.That(local.EndsWith("-03:30") || local.EndsWith("-02:30")).IsTrue().Because(local);
                await Assert.That(DateTimeOffset.Parse(local, CultureInfo.InvariantCulture)).IsEqualTo(at);
            }
        // The later of the two answers' lists continues the earlier one: both follow the same slots.
        var all = upcoming.Concat(preview).Select(i => Time(i!["at"])).Distinct().Order().ToList();
        for (var i = 1; i < all.Count; i++)
            await Assert.That(all[i] - all[i - 1]).IsLessThanOrEqualTo(TimeSpan.FromSeconds(7));
        await Assert.That(Time(jobAgain["next_run_at"])).IsLessThanOrEqualTo(Time(upcoming[1]!["at"]));
    }

    [Test]
    public async Task Upcoming_includes_the_jobs_jitter_and_preview_does_not()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var schedule = new JsonObject { ["kind"] = "cron", ["cron"] = "0 * * * *", ["jitter"] = "30m" };
        var job = await ksana.CreateJobAsync(CronJob("x").Also(j => j["schedule"] = schedule.DeepClone()));
        var upcoming = (await ksana.GetJsonAsync($"/jobs/{job["id"]}/upcoming"))["upcoming"]!.AsArray();
        await Assert.That(upcoming.Count).IsEqualTo(10);
        await Assert.That(Time(upcoming[0]!["at"])).IsEqualTo(Time(job["next_run_at"]));
        var offsets = upcoming.Select(u => Time(u!["at"])).Select(t => t - new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, 0, 0, TimeSpan.Zero)).ToList();
        await Assert.That(offsets.All(o => o < TimeSpan.FromMinutes(30))).IsTrue();
        await Assert.That(offsets.Distinct().Count()).IsGreaterThan(1);
        var preview = await (await ksana.PostAsync("/schedules/preview", new JsonObject { ["schedule"] = schedule.DeepClone() })).Content.ReadFromJsonNodeAsync();
        await Assert.That(preview["upcoming"]!.AsArray().All(u => Time(u!["at"]).Minute == 0 && Time(u!["at"]).Second == 0)).IsTrue();
        await Assert.That(preview["upcoming"]![0]!["local"]!.GetValue<string>()).EndsWith(":00:00+00:00");
    }

    [Test]
    public async Task Preview_validates_like_a_create_and_creates_nothing()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var cases = new (JsonNode Body, string[] Fields)[]
        {
            (new JsonObject { ["schedule"] = new JsonObject { ["kind"] = "cron", ["cron"] = "0 9 * * *" }, ["count"] = 0 }, ["count"]),
            (new JsonObject { ["schedule"] = new JsonObject { ["kind"] = "cron", ["cron"] = "0 9 * * *" }, ["count"] = 101 }, ["count"]),
            (new JsonObject { ["schedule"] = new JsonObject { ["kind"] = "cron", ["cron"] = "0 9 * * *" }, ["count"] = "3" }, ["count"]),
            (new JsonObject { ["schedule"] = new JsonObject { ["kind"] = "cron", ["cron"] = "0 9 * * *" }, ["cout"] = 3 }, ["cout"]),
            (new JsonObject { ["schedule"] = new JsonObject { ["kind"] = "cron", ["cron"] = "0 9 * * *", ["zone"] = "UTC" } }, ["schedule.zone"]),
            (new JsonObject { ["count"] = 3 }, ["schedule"]),
            (new JsonObject { ["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = "2001-01-01T00:00:00Z" } }, ["schedule.run_at"]),
            (new JsonArray(), ["$"]),
        };
        foreach (var (body, fields) in cases)
        {
            var answer = await Answer.Of(ksana.PostAsync("/schedules/preview", body));
            await Assert.That(answer.Status).IsEqualTo(400).Because(body.ToJsonString());
            await Assert.That(answer.Errors.Select(e => e.Key)).IsEquivalentTo(fields).Because(answer.Body);
        }
        var every = await Answer.Of(ksana.PostAsync("/schedules/preview", new JsonObject
        {
            ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "90m", ["start_at"] = "2031-01-01T00:00:00+01:00" }, ["count"] = 3,
        }));
        await Assert.That(every.Body).IsEqualTo(
            "{\"upcoming\":[{\"at\":\"2030-12-31T23:00:00Z\",\"local\":\"2030-12-31T23:00:00+00:00\"},{\"at\":\"2031-01-01T00:30:00Z\",\"local\":\"2031-01-01T00:30:00+00:00\"},{\"at\":\"2031-01-01T02:00:00Z\",\"local\":\"2031-01-01T02:00:00+00:00\"}]}");
        await Assert.That((await ksana.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Count).IsEqualTo(0);
    }

    [Test]
    public async Task Upcoming_of_a_paused_job_is_empty_and_bad_counts_are_400s()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(CronJob("0 9 * * *", "Asia/Shanghai"));
        var id = job["id"]!.GetValue<string>();
        var upcoming = (await ksana.GetJsonAsync($"/jobs/{id}/upcoming?count=3"))["upcoming"]!.AsArray();
        await Assert.That(upcoming.Select(u => u!["local"]!.GetValue<string>()).All(l => l.EndsWith("T09:00:00+08:00"))).IsTrue();
        await Assert.That(upcoming.Select(u => u!["at"]!.GetValue<string>()).All(l => l.EndsWith("T01:00:00Z"))).IsTrue();
        foreach (var count in new[] { "0", "101", "x", "-1", "1.5" })
            await Assert.That((await Answer.Of(ksana.Client.GetAsync($"/jobs/{id}/upcoming?count={count}"))).Status).IsEqualTo(400).Because(count);
        await Assert.That((await Answer.Of(ksana.Client.GetAsync($"/jobs/{Guid.NewGuid()}/upcoming"))).Status).IsEqualTo(404);
        await ksana.PostEmptyAsync($"/jobs/{id}/pause");
        await Assert.That((await ksana.GetJsonAsync($"/jobs/{id}/upcoming"))["upcoming"]!.AsArray().Count).IsEqualTo(0);
    }

    [Test]
    public async Task A_six_field_cron_job_fires_at_whole_seconds_on_its_slots()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(CronJob("*/1 * * * * *", url: callee.Url("/cron")));
        await Assert.That(await Poll.Until(() => callee.RequestsTo("/cron").Count >= 2, TimeSpan.FromSeconds(5))).IsTrue();
        await Assert.That(await Poll.Until(async () => (await ksana.RunsAsync(job["id"]!.GetValue<string>())).Count(r => r!["status"]!.GetValue<string>() == "succeeded") >= 2,
            TimeSpan.FromSeconds(3))).IsTrue();
        foreach (var run in await ksana.RunsAsync(job["id"]!.GetValue<string>()))
            await Assert.That(Time(run!["scheduled_at"]).Ticks % TimeSpan.TicksPerSecond).IsEqualTo(0L);
    }
}

static class JsonObjectExtensions
{
    public static JsonObject Also(this JsonObject o, Action<JsonObject> change)
    {
        change(o);
        return o;
    }

    public static async Task<JsonNode> ReadFromJsonNodeAsync(this HttpContent content) => JsonNode.Parse(await content.ReadAsStringAsync())!;
}
