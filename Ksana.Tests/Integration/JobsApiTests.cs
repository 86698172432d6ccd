using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Ksana.Tests.Integration;

/// <summary>The management API of SPEC §4 over real HTTP: create, read, list, change, delete, run now.</summary>
public sealed partial class JobsApiTests
{
    [GeneratedRegex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    private static partial Regex LowerUuid();

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex RunId();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")]
    private static partial Regex UtcTime();

    static string Seq<T>(IEnumerable<T> items) => string.Join(",", items);

    static DateTimeOffset Time(JsonNode? node) => DateTimeOffset.Parse(node!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);

    [Test]
    public async Task Create_answers_201_with_location_canonical_durations_and_defaults()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = JobDocs.Hourly("ping-example");
        job["schedule"]!["every"] = "5m";
        job["http"]!["method"] = "post";

        var answer = await Answer.Of(ksana.PostAsync("/jobs", job));

        await Assert.That(answer.Status).IsEqualTo(201);
        await Assert.That(answer.ContentType).IsEqualTo("application/json");
        var body = answer.Json!.AsObject();
        var id = body["id"]!.GetValue<string>();
        await Assert.That(LowerUuid().IsMatch(id)).IsTrue();
        await Assert.That(answer.Headers.Location!.OriginalString).IsEqualTo($"/jobs/{id}");
        await Assert.That(body["name"]!.GetValue<string>()).IsEqualTo("ping-example");
        await Assert.That(body["enabled"]!.GetValue<bool>()).IsTrue();
        await Assert.That(body["type"]!.GetValue<string>()).IsEqualTo("http");
        await Assert.That(body["http"]!["method"]!.GetValue<string>()).IsEqualTo("POST");
        await Assert.That(body["http"]!["url"]!.GetValue<string>()).IsEqualTo("http://127.0.0.1:9/never");
        await Assert.That(body["http"]!["headers"]!.AsObject().Count).IsEqualTo(0);
        await Assert.That(body["http"]!["body"]!.GetValue<string>()).IsEqualTo("");
        await Assert.That(body["schedule"]!["kind"]!.GetValue<string>()).IsEqualTo("every");
        await Assert.That(body["schedule"]!["every"]!.GetValue<string>()).IsEqualTo("5m0s");
        // Server defaults of this fixture: DEFAULT_TIMEOUT 10s, MAX_RETRIES 3, RETRY_BACKOFF 5s.
        await Assert.That(body["timeout"]!.GetValue<string>()).IsEqualTo("10s");
        await Assert.That(body["max_retries"]!.GetValue<int>()).IsEqualTo(3);
        await Assert.That(body["retry_backoff"]!.GetValue<string>()).IsEqualTo("5s");
        await Assert.That(body["state"]!.GetValue<string>()).IsEqualTo("scheduled");
        await Assert.That(body["last_run"]).IsNull();
        var created = body["created_at"]!.GetValue<string>();
        await Assert.That(UtcTime().IsMatch(created)).IsTrue();
        await Assert.That(UtcTime().IsMatch(body["updated_at"]!.GetValue<string>())).IsTrue();
        await Assert.That(UtcTime().IsMatch(body["next_run_at"]!.GetValue<string>())).IsTrue();
        // First run of an every job is at created_at + every.
        await Assert.That(Time(body["next_run_at"]) - Time(body["created_at"])).IsEqualTo(TimeSpan.FromMinutes(5));
    }

    [Test]
    [Arguments("1.9999999999s", "1.999999999s")]
    [Arguments("1.0000000001s", "1s")]
    [Arguments("1h0.000000001s", "1h0m0.000000001s")]
    [Arguments("2.000000123s", "2.000000123s")]
    public async Task Durations_keep_every_nanosecond_through_the_api_and_a_restart(string given, string shown)
    {
        await using var ksana = await KsanaServer.StartAsync();
        var doc = JobDocs.Hourly();
        doc["schedule"]!["every"] = given;
        var created = await ksana.CreateJobAsync(doc);
        await Assert.That(created["schedule"]!["every"]!.GetValue<string>()).IsEqualTo(shown);
        await using var again = await ksana.RestartAsync();
        var read = await again.GetJsonAsync($"/jobs/{created["id"]}");
        await Assert.That(read["schedule"]!["every"]!.GetValue<string>()).IsEqualTo(shown);
    }

    [Test]
    public async Task Create_writes_durations_back_in_go_canonical_form_and_times_in_utc()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var every = JobDocs.Hourly();
        every["schedule"]!["every"] = "90m";
        every["timeout"] = "1500ms";
        every["retry_backoff"] = "0.5s";
        every["max_retries"] = 0;
        var e = await ksana.CreateJobAsync(every);
        await Assert.That(e["schedule"]!["every"]!.GetValue<string>()).IsEqualTo("1h30m0s");
        await Assert.That(e["timeout"]!.GetValue<string>()).IsEqualTo("1.5s");
        await Assert.That(e["retry_backoff"]!.GetValue<string>()).IsEqualTo("500ms");
        await Assert.That(e["max_retries"]!.GetValue<int>()).IsEqualTo(0);

        var once = JobDocs.Hourly();
        once["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = "2099-01-01T08:00:00+08:00" };
        var o = await ksana.CreateJobAsync(once);
        await Assert.That(o["schedule"]!["run_at"]!.GetValue<string>()).IsEqualTo("2099-01-01T00:00:00Z");
        await Assert.That(o["next_run_at"]!.GetValue<string>()).IsEqualTo("2099-01-01T00:00:00Z");
        await Assert.That(o["state"]!.GetValue<string>()).IsEqualTo("scheduled");
    }

    [Test]
    public async Task Created_job_reads_back_the_same()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = JobDocs.Hourly("read-me");
        job["http"]!["headers"] = new JsonObject { ["Content-Type"] = "application/json", ["X-Trace"] = "abc" };
        job["http"]!["body"] = "{\"a\":1}";
        var created = await ksana.CreateJobAsync(job);
        var id = created["id"]!.GetValue<string>();

        var read = await ksana.GetJsonAsync($"/jobs/{id}");

        await Assert.That(read.ToJsonString()).IsEqualTo(created.ToJsonString());
        await Assert.That(read["http"]!["headers"]!["X-Trace"]!.GetValue<string>()).IsEqualTo("abc");
        await Assert.That(read["http"]!["body"]!.GetValue<string>()).IsEqualTo("{\"a\":1}");
    }

    [Test]
    public async Task Server_fields_sent_on_create_are_ignored()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = JobDocs.Hourly();
        job["id"] = "00000000-0000-0000-0000-000000000001";
        job["state"] = "paused";
        job["created_at"] = "2000-01-01T00:00:00Z";

        var created = await ksana.CreateJobAsync(job);

        await Assert.That(created["id"]!.GetValue<string>()).IsNotEqualTo("00000000-0000-0000-0000-000000000001");
        await Assert.That(created["state"]!.GetValue<string>()).IsEqualTo("scheduled");
        await Assert.That(created["created_at"]!.GetValue<string>()).IsNotEqualTo("2000-01-01T00:00:00Z");
    }

    [Test]
    public async Task List_pages_through_27_jobs_in_created_order_without_gaps_or_duplicates()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var created = new List<string>();
        for (var i = 0; i < 27; i++)
            created.Add((await ksana.CreateJobAsync(JobDocs.Hourly($"job-{i:00}")))["id"]!.GetValue<string>());

        var seen = new List<JsonNode>();
        var pages = new List<int>();
        string? cursor = null;
        for (var page = 0; page < 10; page++)
        {
            var list = await ksana.GetJsonAsync(cursor is null ? "/jobs?limit=10" : $"/jobs?limit=10&cursor={Uri.EscapeDataString(cursor)}");
            var jobs = list["jobs"]!.AsArray();
            pages.Add(jobs.Count);
            seen.AddRange(jobs.Select(j => j!));
            cursor = list["next_cursor"]?.GetValue<string>();
            if (cursor is null) break;
        }

        await Assert.That(Seq(pages)).IsEqualTo(Seq(new[] { 10, 10, 7 }));
        var ids = seen.Select(j => j["id"]!.GetValue<string>()).ToList();
        await Assert.That(ids.Distinct().Count()).IsEqualTo(27);
        await Assert.That(Seq(ids.OrderBy(x => x))).IsEqualTo(Seq(created.OrderBy(x => x)));
        // Ordered by created_at (jobs made within one millisecond may tie; ties need not follow creation order).
        var times = seen.Select(j => Time(j["created_at"])).ToList();
        for (var i = 1; i < times.Count; i++)
            await Assert.That(times[i] >= times[i - 1]).IsTrue();
        // The names were created in order, so wherever created_at differs the name order follows.
        var everything = (await ksana.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Select(j => j!["id"]!.GetValue<string>()).ToList();
        await Assert.That(Seq(everything)).IsEqualTo(Seq(ids));
        await Assert.That((await ksana.GetJsonAsync("/jobs"))["next_cursor"]).IsNull();
    }

    [Test]
    public async Task List_with_a_limit_that_divides_evenly_ends_with_a_null_cursor_or_an_empty_page()
    {
        await using var ksana = await KsanaServer.StartAsync();
        for (var i = 0; i < 4; i++) await ksana.CreateJobAsync(JobDocs.Hourly($"j{i}"));

        var first = await ksana.GetJsonAsync("/jobs?limit=2");
        var second = await ksana.GetJsonAsync($"/jobs?limit=2&cursor={first["next_cursor"]!.GetValue<string>()}");
        var total = first["jobs"]!.AsArray().Count + second["jobs"]!.AsArray().Count;
        if (second["next_cursor"] is { } more)
        {
            var third = await ksana.GetJsonAsync($"/jobs?limit=2&cursor={more.GetValue<string>()}");
            await Assert.That(third["jobs"]!.AsArray().Count).IsEqualTo(0);
            await Assert.That(third["next_cursor"]).IsNull();
        }
        await Assert.That(total).IsEqualTo(4);
    }

    [Test]
    public async Task List_of_no_jobs_is_empty_with_a_null_cursor()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var answer = await Answer.Of(ksana.Client.GetAsync("/jobs"));
        await Assert.That(answer.Status).IsEqualTo(200);
        await Assert.That(answer.Json!["jobs"]!.AsArray().Count).IsEqualTo(0);
        await Assert.That(answer.Json!.AsObject().ContainsKey("next_cursor")).IsTrue();
        await Assert.That(answer.Json!["next_cursor"]).IsNull();
    }

    [Test]
    public async Task List_filters_by_state_and_by_name()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var a = (await ksana.CreateJobAsync(JobDocs.Hourly("alpha")))["id"]!.GetValue<string>();
        var b = (await ksana.CreateJobAsync(JobDocs.Hourly("beta")))["id"]!.GetValue<string>();
        var c = (await ksana.CreateJobAsync(JobDocs.Hourly("alpha")))["id"]!.GetValue<string>();
        using (var pause = await ksana.PostEmptyAsync($"/jobs/{b}/pause")) await Assert.That(pause.StatusCode).IsEqualTo(HttpStatusCode.OK);

        static List<string> Ids(JsonObject list) => list["jobs"]!.AsArray().Select(j => j!["id"]!.GetValue<string>()).ToList();
        await Assert.That(Seq(Ids(await ksana.GetJsonAsync("/jobs?state=paused")))).IsEqualTo(Seq(new[] { b }));
        await Assert.That(Seq(Ids(await ksana.GetJsonAsync("/jobs?state=scheduled")).Order())).IsEqualTo(Seq(new[] { a, c }.Order()));
        await Assert.That(Ids(await ksana.GetJsonAsync("/jobs?state=completed"))).IsEmpty();
        await Assert.That(Seq(Ids(await ksana.GetJsonAsync("/jobs?name=alpha")).Order())).IsEqualTo(Seq(new[] { a, c }.Order()));
        await Assert.That(Seq(Ids(await ksana.GetJsonAsync("/jobs?name=beta")))).IsEqualTo(Seq(new[] { b }));
        await Assert.That(Ids(await ksana.GetJsonAsync("/jobs?name=gamma"))).IsEmpty();
        await Assert.That(Ids(await ksana.GetJsonAsync("/jobs?name=alpha&state=paused"))).IsEmpty();
    }

    [Test]
    [Arguments("limit=0", "limit")]
    [Arguments("limit=1001", "limit")]
    [Arguments("limit=abc", "limit")]
    [Arguments("limit=-1", "limit")]
    [Arguments("cursor=not-a-cursor", "cursor")]
    [Arguments("cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "cursor")]
    [Arguments("limit=", "limit")]
    [Arguments("cursor=", "cursor")]
    [Arguments("state=running", "state")]
    [Arguments("state=", "state")]
    public async Task List_rejects_a_bad_query_parameter_naming_it(string query, string field)
    {
        await using var ksana = await KsanaServer.StartAsync();
        var answer = await Answer.Of(ksana.Client.GetAsync($"/jobs?{query}"));
        await Assert.That(answer.Status).IsEqualTo(400);
        await Assert.That(answer.ContentType).IsEqualTo("application/problem+json");
        await Assert.That(answer.Errors.ContainsKey(field)).IsTrue();
    }

    [Test]
    public async Task List_accepts_limits_1_and_1000()
    {
        await using var ksana = await KsanaServer.StartAsync();
        await ksana.CreateJobAsync(JobDocs.Hourly("a"));
        await ksana.CreateJobAsync(JobDocs.Hourly("b"));
        var one = await ksana.GetJsonAsync("/jobs?limit=1");
        await Assert.That(one["jobs"]!.AsArray().Count).IsEqualTo(1);
        await Assert.That(one["next_cursor"]).IsNotNull();
        var all = await ksana.GetJsonAsync("/jobs?limit=1000");
        await Assert.That(all["jobs"]!.AsArray().Count).IsEqualTo(2);
        await Assert.That(all["next_cursor"]).IsNull();
    }

    [Test]
    public async Task Cursor_stays_valid_when_the_job_it_points_at_is_deleted()
    {
        await using var ksana = await KsanaServer.StartAsync();
        for (var i = 0; i < 5; i++) await ksana.CreateJobAsync(JobDocs.Hourly($"j{i}"));
        var all = (await ksana.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Select(j => j!["id"]!.GetValue<string>()).ToList();

        var first = await ksana.GetJsonAsync("/jobs?limit=2");
        var lastOfPage = first["jobs"]![1]!["id"]!.GetValue<string>();
        using (await ksana.Client.DeleteAsync($"/jobs/{lastOfPage}")) { }
        var rest = await ksana.GetJsonAsync($"/jobs?limit=10&cursor={first["next_cursor"]!.GetValue<string>()}");

        await Assert.That(Seq(rest["jobs"]!.AsArray().Select(j => j!["id"]!.GetValue<string>()))).IsEqualTo(Seq(all.Skip(2)));
        await Assert.That(rest["next_cursor"]).IsNull();
    }

    [Test]
    public async Task Patch_with_a_reserved_header_or_a_past_run_at_is_rejected_and_changes_nothing()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = JobDocs.Hourly("once");
        job["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = "2099-01-01T00:00:00Z" };
        var created = await ksana.CreateJobAsync(job);
        var id = created["id"]!.GetValue<string>();

        var header = await Answer.Of(ksana.PatchAsync($"/jobs/{id}", """{"http": {"headers": {"X-Ksana-Attempt": "9"}}}"""));
        await Assert.That(header.Status).IsEqualTo(400);
        await Assert.That(header.Errors.ContainsKey("http.headers.X-Ksana-Attempt")).IsTrue().Because(header.Body);

        var past = await Answer.Of(ksana.PatchAsync($"/jobs/{id}", """{"schedule": {"run_at": "2020-01-01T00:00:00Z"}}"""));
        await Assert.That(past.Status).IsEqualTo(400);
        await Assert.That(past.Errors["schedule.run_at"]!.ToJsonString()).Contains("run_at is in the past");

        await Assert.That((await ksana.GetJsonAsync($"/jobs/{id}")).ToJsonString()).IsEqualTo(created.ToJsonString());
    }

    [Test]
    public async Task Patch_of_the_name_keeps_every_other_field()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = JobDocs.Hourly("before");
        job["http"]!["headers"] = new JsonObject { ["X-A"] = "1" };
        job["max_retries"] = 7;
        var created = await ksana.CreateJobAsync(job);
        var id = created["id"]!.GetValue<string>();

        var answer = await Answer.Of(ksana.PatchAsync($"/jobs/{id}", """{"name": "after"}"""));

        await Assert.That(answer.Status).IsEqualTo(200);
        var patched = answer.Json!.AsObject();
        await Assert.That(patched["name"]!.GetValue<string>()).IsEqualTo("after");
        foreach (var field in new[] { "id", "enabled", "type", "http", "schedule", "timeout", "max_retries", "retry_backoff", "state", "created_at", "next_run_at" })
            await Assert.That(patched[field]?.ToJsonString()).IsEqualTo(created[field]?.ToJsonString());
        await Assert.That(Time(patched["updated_at"]) >= Time(created["updated_at"])).IsTrue();
        var read = await ksana.GetJsonAsync($"/jobs/{id}");
        await Assert.That(read.ToJsonString()).IsEqualTo(patched.ToJsonString());
    }

    [Test]
    public async Task Patch_enabled_false_pauses_and_true_resumes()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(JobDocs.Hourly()))["id"]!.GetValue<string>();

        var off = await Answer.Of(ksana.PatchAsync($"/jobs/{id}", """{"enabled": false}"""));
        await Assert.That(off.Status).IsEqualTo(200);
        await Assert.That(off.Json!["enabled"]!.GetValue<bool>()).IsFalse();
        await Assert.That(off.Json!["state"]!.GetValue<string>()).IsEqualTo("paused");

        var on = await Answer.Of(ksana.PatchAsync($"/jobs/{id}", """{"enabled": true}"""));
        await Assert.That(on.Json!["enabled"]!.GetValue<bool>()).IsTrue();
        await Assert.That(on.Json!["state"]!.GetValue<string>()).IsEqualTo("scheduled");
    }

    [Test]
    public async Task Patch_merges_headers_and_null_removes_one()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = JobDocs.Hourly();
        job["http"]!["headers"] = new JsonObject { ["X-Keep"] = "k", ["X-Drop"] = "d", ["X-Change"] = "old" };
        var id = (await ksana.CreateJobAsync(job))["id"]!.GetValue<string>();

        var answer = await Answer.Of(ksana.PatchAsync($"/jobs/{id}",
            """{"http": {"headers": {"X-Drop": null, "X-Change": "new", "X-Add": "a"}}}"""));

        await Assert.That(answer.Status).IsEqualTo(200);
        var headers = answer.Json!["http"]!["headers"]!.AsObject();
        await Assert.That(Seq(headers.Select(h => h.Key).Order())).IsEqualTo(Seq(new[] { "X-Add", "X-Change", "X-Keep" }));
        await Assert.That(headers["X-Keep"]!.GetValue<string>()).IsEqualTo("k");
        await Assert.That(headers["X-Change"]!.GetValue<string>()).IsEqualTo("new");
        await Assert.That(headers["X-Add"]!.GetValue<string>()).IsEqualTo("a");
        // The rest of http is untouched by a patch of its headers.
        await Assert.That(answer.Json!["http"]!["method"]!.GetValue<string>()).IsEqualTo("POST");
        await Assert.That(answer.Json!["http"]!["url"]!.GetValue<string>()).IsEqualTo("http://127.0.0.1:9/never");
    }

    [Test]
    public async Task Patch_of_the_schedule_restarts_the_grid_and_canonicalises()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(JobDocs.Hourly()))["id"]!.GetValue<string>();

        var answer = await Answer.Of(ksana.PatchAsync($"/jobs/{id}", """{"schedule": {"every": "2m"}}"""));

        await Assert.That(answer.Status).IsEqualTo(200);
        await Assert.That(answer.Json!["schedule"]!["every"]!.GetValue<string>()).IsEqualTo("2m0s");
        // The grid restarts from the change: next run is updated_at + 2m.
        await Assert.That(Time(answer.Json!["next_run_at"]) - Time(answer.Json!["updated_at"])).IsEqualTo(TimeSpan.FromMinutes(2));
    }

    [Test]
    public async Task Invalid_patch_names_every_bad_field_and_changes_nothing()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(JobDocs.Hourly("keep")))["id"]!.GetValue<string>();
        var before = await ksana.GetJsonAsync($"/jobs/{id}");

        var answer = await Answer.Of(ksana.PatchAsync($"/jobs/{id}",
            """{"name": "changed", "max_retries": 101, "http": {"url": "ftp://x/"}, "schedule": {"every": "0s"}, "max_retry": 1}"""));

        await Assert.That(answer.Status).IsEqualTo(400);
        await Assert.That(answer.ContentType).IsEqualTo("application/problem+json");
        foreach (var field in new[] { "max_retries", "http.url", "schedule.every", "max_retry" })
            await Assert.That(answer.Errors.ContainsKey(field)).IsTrue();
        var after = await ksana.GetJsonAsync($"/jobs/{id}");
        await Assert.That(after.ToJsonString()).IsEqualTo(before.ToJsonString());
    }

    [Test]
    public async Task Patch_that_is_not_an_object_is_400_and_patch_of_an_unknown_job_is_404()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(JobDocs.Hourly()))["id"]!.GetValue<string>();
        var array = await Answer.Of(ksana.PatchAsync($"/jobs/{id}", "[1]"));
        await Assert.That(array.Status).IsEqualTo(400);
        var missing = await Answer.Of(ksana.PatchAsync($"/jobs/{Guid.NewGuid()}", """{"name": "x"}"""));
        await Assert.That(missing.Status).IsEqualTo(404);
        await Assert.That(missing.ContentType).IsEqualTo("application/problem+json");
    }

    [Test]
    public async Task Pause_and_resume_are_idempotent()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(JobDocs.Hourly()))["id"]!.GetValue<string>();

        for (var i = 0; i < 2; i++)
        {
            var paused = await Answer.Of(ksana.PostEmptyAsync($"/jobs/{id}/pause"));
            await Assert.That(paused.Status).IsEqualTo(200);
            await Assert.That(paused.Json!["state"]!.GetValue<string>()).IsEqualTo("paused");
            await Assert.That(paused.Json!["enabled"]!.GetValue<bool>()).IsFalse();
        }
        await Assert.That((await ksana.GetJsonAsync($"/jobs/{id}"))["state"]!.GetValue<string>()).IsEqualTo("paused");
        for (var i = 0; i < 2; i++)
        {
            var resumed = await Answer.Of(ksana.PostEmptyAsync($"/jobs/{id}/resume"));
            await Assert.That(resumed.Status).IsEqualTo(200);
            await Assert.That(resumed.Json!["state"]!.GetValue<string>()).IsEqualTo("scheduled");
            await Assert.That(resumed.Json!["enabled"]!.GetValue<bool>()).IsTrue();
            await Assert.That(resumed.Json!["next_run_at"]).IsNotNull();
        }
        var unknown = await Answer.Of(ksana.PostEmptyAsync($"/jobs/{Guid.NewGuid()}/pause"));
        await Assert.That(unknown.Status).IsEqualTo(404);
    }

    [Test]
    public async Task Delete_answers_204_then_the_job_is_gone()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(JobDocs.Hourly()))["id"]!.GetValue<string>();

        var deleted = await Answer.Of(ksana.Client.DeleteAsync($"/jobs/{id}"));
        await Assert.That(deleted.Status).IsEqualTo(204);
        await Assert.That(deleted.Body).IsEqualTo("");

        var get = await Answer.Of(ksana.Client.GetAsync($"/jobs/{id}"));
        await Assert.That(get.Status).IsEqualTo(404);
        await Assert.That(get.ContentType).IsEqualTo("application/problem+json");
        var again = await Answer.Of(ksana.Client.DeleteAsync($"/jobs/{id}"));
        await Assert.That(again.Status).IsEqualTo(404);
        await Assert.That((await ksana.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Count).IsEqualTo(0);
        await Assert.That((await Answer.Of(ksana.Client.GetAsync($"/jobs/{id}/runs"))).Status).IsEqualTo(404);
    }

    [Test]
    public async Task Run_now_answers_202_with_a_run_id_also_on_a_paused_job()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/paused"))))["id"]!.GetValue<string>();
        using (await ksana.PostEmptyAsync($"/jobs/{id}/pause")) { }

        var answer = await Answer.Of(ksana.PostEmptyAsync($"/jobs/{id}/run-now"));

        await Assert.That(answer.Status).IsEqualTo(202);
        var runId = answer.Json!["run_id"]!.GetValue<string>();
        await Assert.That(RunId().IsMatch(runId)).IsTrue();
        var run = await ksana.WaitForRunAsync(id, runId);
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(run["trigger"]!.GetValue<string>()).IsEqualTo("manual");
        await Assert.That(callee.RequestsTo("/paused").Count).IsEqualTo(1);
        // The schedule is untouched: still paused.
        await Assert.That((await ksana.GetJsonAsync($"/jobs/{id}"))["state"]!.GetValue<string>()).IsEqualTo("paused");
        var unknown = await Answer.Of(ksana.PostEmptyAsync($"/jobs/{Guid.NewGuid()}/run-now"));
        await Assert.That(unknown.Status).IsEqualTo(404);
    }

    [Test]
    public async Task Runs_are_listed_newest_first()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/order"))))["id"]!.GetValue<string>();

        var started = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var runId = await ksana.RunNowAsync(id);
            await ksana.WaitForRunAsync(id, runId);
            started.Add(runId);
        }

        var runs = await ksana.RunsAsync(id);
        await Assert.That(Seq(runs.Select(r => r!["run_id"]!.GetValue<string>()))).IsEqualTo(Seq(Enumerable.Reverse(started)));
        foreach (var run in runs)
            await Assert.That(run!["job_id"]!.GetValue<string>()).IsEqualTo(id);
        var job = await ksana.GetJsonAsync($"/jobs/{id}");
        await Assert.That(job["last_run"]!["run_id"]!.GetValue<string>()).IsEqualTo(started[^1]);
    }
}
