using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Ksana.Tests.Browser;

/// <summary>
/// The status page (SPEC §11) in a real headless Chromium against an in-process Ksana: what a person
/// sees and can do, and that the key never leaves the request headers. Screenshots at phone and
/// desktop width go to TestResults/screenshots/.
/// </summary>
[NotInParallel("chromium")] // one browser on a 2-core machine: pages that wait on timers must not starve each other
public sealed class StatusPageTests
{
    static StatusPageTests() => SetDefaultExpectTimeout(15_000);

    static JsonObject Every(string name, string every, string url = "http://127.0.0.1:9/never") => new()
    {
        ["name"] = name,
        ["http"] = new JsonObject { ["method"] = "POST", ["url"] = url },
        ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = every },
        ["timeout"] = "2s",
        ["max_retries"] = 0,
    };

    static JsonObject Once(string name, DateTimeOffset at) => new()
    {
        ["name"] = name,
        ["http"] = new JsonObject { ["method"] = "GET", ["url"] = "http://127.0.0.1:9/once" },
        ["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = Rfc3339.Format(at) },
    };

    [Test]
    public async Task Key_entered_once_shows_every_job_with_its_schedule_in_words_and_updates_in_place()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var runAt = DateTimeOffset.UtcNow.AddDays(30);
        await ksana.CreateJobAsync(Every("ping-example", "5m"));
        await ksana.CreateJobAsync(Every("hourly-sync", "1h"));
        await ksana.CreateJobAsync(Once("launch-mail", runAt));
        await using var browser = await PageUnderTest.OpenAsync(ksana);
        var page = browser.Page;

        await Expect(page.Locator("#gate")).ToBeVisibleAsync();
        await Expect(page.Locator("#app")).ToBeHiddenAsync();
        await browser.EnterKeyAsync(ksana.Key);

        await Expect(page.Locator("article.job")).ToHaveCountAsync(3);
        await Expect(browser.Row("ping-example").Locator(".sched")).ToHaveTextAsync("every 5 minutes");
        await Expect(browser.Row("hourly-sync").Locator(".sched")).ToHaveTextAsync("every hour");
        await Expect(browser.Row("launch-mail").Locator(".sched")).ToHaveTextAsync($"once at {runAt:yyyy-MM-dd HH:mm} UTC");
        await Expect(browser.Row("ping-example").Locator(".badge.state-scheduled")).ToHaveTextAsync("scheduled");
        await Expect(browser.Row("ping-example").Locator(".rel").First).ToHaveTextAsync(new Regex(@"^in [45] min$"));
        await Expect(browser.Row("ping-example").Locator(".col-next-run .sub").First).ToHaveTextAsync(new Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"));
        await Expect(browser.Row("ping-example").Locator(".col-last-run .badge")).ToHaveTextAsync("never run");
        await Expect(page.Locator("#gate")).ToBeHiddenAsync();

        // The next refresh must update rows in place: the same elements, marked now, are there after it.
        await page.EvaluateAsync("() => document.querySelectorAll('article.job').forEach(e => e.dataset.mark = 'before')");
        await ksana.CreateJobAsync(Every("added-later", "30s"));
        await Expect(page.Locator("article.job")).ToHaveCountAsync(4);
        await Expect(page.Locator("article.job[data-mark=before]")).ToHaveCountAsync(3);
        await Expect(browser.Row("added-later").Locator(".sched")).ToHaveTextAsync("every 30 seconds");

        await browser.ScreenshotAsync("jobs-desktop");
        await page.SetViewportSizeAsync(PageUnderTest.Phone.Width, PageUnderTest.Phone.Height);
        await browser.ScreenshotAsync("jobs-phone");
        await Assert.That(browser.Problems).IsEmpty();
    }

    /// <summary>
    /// Cron schedules (SPEC §7) in words, with the next run in the job's own zone. The server does not
    /// take cron jobs yet, so the browser answers GET /jobs with job documents in the SPEC §2 shape.
    /// </summary>
    [Test]
    public async Task Cron_schedules_read_in_words_with_the_next_run_in_the_jobs_zone()
    {
        await using var ksana = await KsanaServer.StartAsync();
        static JsonObject Cron(string id, string name, string cron, string zone, string next) => new()
        {
            ["id"] = id, ["name"] = name, ["enabled"] = true, ["type"] = "http",
            ["http"] = new JsonObject { ["method"] = "POST", ["url"] = "https://example.com/" + name, ["headers"] = new JsonObject(), ["body"] = "" },
            ["schedule"] = new JsonObject { ["kind"] = "cron", ["cron"] = cron, ["time_zone"] = zone },
            ["timeout"] = "10s", ["max_retries"] = 3, ["retry_backoff"] = "5s", ["state"] = "scheduled",
            ["next_run_at"] = next, ["last_run"] = null, ["created_at"] = "2026-01-01T00:00:00Z", ["updated_at"] = "2026-01-01T00:00:00Z",
        };
        var jobs = new JsonArray(
            Cron("00000000-0000-0000-0000-000000000001", "berlin-nightly", "30 2 * * *", "Europe/Berlin", "2030-03-01T01:30:00Z"),
            Cron("00000000-0000-0000-0000-000000000002", "ny-weekdays", "0 9 * * MON-FRI", "America/New_York", "2030-07-01T13:00:00Z"),
            Cron("00000000-0000-0000-0000-000000000003", "quarter-hour", "*/15 * * * *", "UTC", "2030-01-01T00:15:00Z"),
            Cron("00000000-0000-0000-0000-000000000004", "daily-macro", "@daily", "Asia/Shanghai", "2030-01-01T16:00:00Z"),
            Cron("00000000-0000-0000-0000-000000000005", "posix-either", "0 0 13 * FRI", "UTC", "2030-09-13T00:00:00Z"));
        await using var browser = await PageUnderTest.OpenAsync(ksana);
        await browser.Page.RouteAsync(new Regex(@"/jobs\?"), route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 200, ContentType = "application/json", Body = new JsonObject { ["jobs"] = jobs.DeepClone(), ["next_cursor"] = null }.ToJsonString(),
        }));
        await browser.EnterKeyAsync(ksana.Key);

        await Expect(browser.Row("berlin-nightly").Locator(".sched")).ToHaveTextAsync("every day at 02:30, Europe/Berlin");
        await Expect(browser.Row("ny-weekdays").Locator(".sched")).ToHaveTextAsync("on weekdays at 09:00, America/New_York");
        await Expect(browser.Row("quarter-hour").Locator(".sched")).ToHaveTextAsync("every 15 minutes, UTC");
        await Expect(browser.Row("daily-macro").Locator(".sched")).ToHaveTextAsync("every day at 00:00, Asia/Shanghai");
        await Expect(browser.Row("posix-either").Locator(".sched")).ToHaveTextAsync("cron 0 0 13 * FRI (UTC)");
        var berlin = browser.Row("berlin-nightly").Locator(".col-next-run .sub");
        await Expect(berlin.Nth(0)).ToHaveTextAsync("2030-03-01 01:30:00 UTC");
        await Expect(berlin.Nth(1)).ToHaveTextAsync("2030-03-01 02:30:00 CET (Europe/Berlin)");
        await Expect(browser.Row("ny-weekdays").Locator(".col-next-run .sub").Nth(1)).ToHaveTextAsync("2030-07-01 09:00:00 GMT-4 (America/New_York)");
        await Expect(browser.Row("quarter-hour").Locator(".col-next-run .sub").Nth(1)).ToHaveTextAsync("");
        await browser.ScreenshotAsync("cron-desktop");
        await Assert.That(browser.Problems).IsEmpty();
    }

    [Test]
    public async Task Job_created_through_the_form_shows_the_api_errors_beside_their_fields()
    {
        await using var ksana = await KsanaServer.StartAsync();
        await using var browser = await PageUnderTest.OpenAsync(ksana);
        var page = browser.Page;
        await browser.EnterKeyAsync(ksana.Key);
        await Expect(page.Locator("#jobs-empty")).ToBeVisibleAsync();

        await page.Locator("#new-job").ClickAsync();
        var dialog = page.Locator("#job-dialog");
        await Expect(dialog).ToBeVisibleAsync();
        await page.Locator("#f-name").FillAsync("nightly-report");
        await page.Locator("#f-method").SelectOptionAsync("PUT");
        await page.Locator("#f-url").FillAsync("ftp://reports.example.com/run");
        await page.Locator("#f-headers").FillAsync("Content-Type: application/json\nX-Team: reports");
        await page.Locator("#f-body").FillAsync("{\"run\": \"{{run_id}}\"}");
        await page.Locator("#f-every").FillAsync("5 minutes");
        await page.Locator("#f-retries").FillAsync("2");
        await page.Locator("#form-submit").ClickAsync();

        // Each error the API names is shown beside its own field, and the form stays open.
        var urlError = page.Locator(".field-error[data-for='http.url']");
        await Expect(urlError).ToBeVisibleAsync();
        await Expect(urlError).ToContainTextAsync("http");
        await Expect(page.Locator(".field-error[data-for='schedule.every']")).ToBeVisibleAsync();
        await Expect(page.Locator("#f-url")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator(".field-error[data-for='name']")).ToBeHiddenAsync();
        await Expect(dialog).ToBeVisibleAsync();
        await browser.ScreenshotAsync("form-errors-desktop");
        await page.SetViewportSizeAsync(PageUnderTest.Phone.Width, PageUnderTest.Phone.Height);
        await browser.ScreenshotAsync("form-errors-phone");
        await page.SetViewportSizeAsync(PageUnderTest.Desktop.Width, PageUnderTest.Desktop.Height);

        await page.Locator("#f-url").FillAsync("https://reports.example.com/run");
        await page.Locator("#f-every").FillAsync("5m");
        await page.Locator("#form-submit").ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(browser.Row("nightly-report").Locator(".sched")).ToHaveTextAsync("every 5 minutes");

        var job = (await ksana.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Single()!;
        await Assert.That(job["http"]!["method"]!.GetValue<string>()).IsEqualTo("PUT");
        await Assert.That(job["http"]!["url"]!.GetValue<string>()).IsEqualTo("https://reports.example.com/run");
        await Assert.That(job["http"]!["headers"]!["X-Team"]!.GetValue<string>()).IsEqualTo("reports");
        await Assert.That(job["http"]!["body"]!.GetValue<string>()).IsEqualTo("{\"run\": \"{{run_id}}\"}");
        await Assert.That(job["schedule"]!["every"]!.GetValue<string>()).IsEqualTo("5m0s");
        await Assert.That(job["max_retries"]!.GetValue<int>()).IsEqualTo(2);

        // Edit sends a merge patch of what changed; an unchanged schedule keeps its grid.
        var nextRunAt = job["next_run_at"]!.GetValue<string>();
        await browser.Row("nightly-report").Locator("[data-act=edit]").ClickAsync();
        await Expect(page.Locator("#f-name")).ToHaveValueAsync("nightly-report");
        await Expect(page.Locator("#f-every")).ToHaveValueAsync("5m0s");
        await page.Locator("#f-name").FillAsync("nightly-report-v2");
        await page.Locator("#f-headers").FillAsync("Content-Type: application/json");
        await page.Locator("#form-submit").ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(browser.Row("nightly-report-v2")).ToBeVisibleAsync();
        var edited = (await ksana.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Single()!;
        await Assert.That(edited["http"]!["headers"]!.AsObject().ContainsKey("X-Team")).IsFalse();
        await Assert.That(edited["next_run_at"]!.GetValue<string>()).IsEqualTo(nextRunAt);
        var patch = browser.Requests.Single(r => r.Method == "PATCH");
        await Assert.That(patch.Headers["content-type"]).IsEqualTo("application/merge-patch+json");
        await Assert.That(patch.PostData!).DoesNotContain("schedule");
        await Assert.That(browser.Problems).IsEmpty();
    }

    [Test]
    public async Task Pause_resume_and_run_now_from_the_row_and_the_run_appears_with_its_attempt()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        await ksana.CreateJobAsync(Every("billing-sync", "1h", callee.Url("/hook")));
        await using var browser = await PageUnderTest.OpenAsync(ksana);
        var page = browser.Page;
        await browser.EnterKeyAsync(ksana.Key);
        var row = browser.Row("billing-sync");

        await row.Locator("[data-act=pause]").ClickAsync();
        await Expect(row.Locator(".col-state .badge")).ToHaveTextAsync("paused");
        await Expect(row.Locator("[data-act=resume]")).ToHaveTextAsync("Resume");
        await Assert.That((await ksana.GetJsonAsync("/jobs"))["jobs"]![0]!["state"]!.GetValue<string>()).IsEqualTo("paused");

        await row.Locator("[data-act=resume]").ClickAsync();
        await Expect(row.Locator(".col-state .badge")).ToHaveTextAsync("scheduled");
        await Expect(row.Locator("[data-act=pause]")).ToHaveTextAsync("Pause");

        await row.Locator("[data-act=run-now]").ClickAsync();
        await Expect(row.Locator(".col-last-run .badge")).ToHaveTextAsync("✓ succeeded");
        await Expect(row.Locator(".strip .cell.st-succeeded")).ToHaveCountAsync(1);
        await Assert.That(callee.RequestsTo("/hook").Count).IsEqualTo(1);

        // The job's runs, with the attempt and its status code.
        await row.Locator(".job-name").ClickAsync();
        var run = row.Locator("details.run").First;
        await Expect(run.Locator(".badge")).ToHaveTextAsync("✓ succeeded");
        await run.Locator("summary").ClickAsync();
        await Expect(run.Locator(".attempt .code")).ToHaveTextAsync("HTTP 200");
        await Expect(run.Locator(".meta")).ToContainTextAsync("manual · 1 attempt");
        await browser.ScreenshotAsync("runs-desktop");
        await Assert.That(browser.Problems).IsEmpty();
    }

    /// <summary>
    /// The first click arms the button for 4 s, the second deletes. The page's clock is paused
    /// while the button is armed, so a machine slowed by the rest of the suite cannot let it disarm
    /// between the two clicks (it did once, under a full run); the 4 s are then run on that clock.
    /// </summary>
    [Test]
    public async Task Delete_asks_for_a_second_click_then_removes_the_job()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(Every("old-cleanup", "1h")))["id"]!.GetValue<string>();
        var keptId = (await ksana.CreateJobAsync(Every("keep-me", "1h")))["id"]!.GetValue<string>();
        await using var browser = await PageUnderTest.OpenAsync(ksana, clock: true);
        await browser.EnterKeyAsync(ksana.Key);
        var row = browser.Row("old-cleanup");
        var kept = browser.Row("keep-me");
        await Expect(row).ToBeVisibleAsync();
        await browser.Page.Clock.PauseAtAsync(DateTime.UtcNow.AddSeconds(1));

        // Armed, and left alone for 4 s: it disarms, and nothing is deleted.
        await kept.Locator("[data-act=delete]").ClickAsync();
        await Expect(kept.Locator("[data-act=delete]")).ToHaveTextAsync("Confirm delete");
        await browser.Page.Clock.RunForAsync(3_900);
        await Expect(kept.Locator("[data-act=delete]")).ToHaveTextAsync("Confirm delete");
        await browser.Page.Clock.RunForAsync(200);
        await Expect(kept.Locator("[data-act=delete]")).ToHaveTextAsync("Delete");
        using (var still = await ksana.Client.GetAsync($"/jobs/{keptId}"))
            await Assert.That((int)still.StatusCode).IsEqualTo(200);

        await row.Locator("[data-act=delete]").ClickAsync();
        await Expect(row.Locator("[data-act=delete]")).ToHaveTextAsync("Confirm delete");
        using (var still = await ksana.Client.GetAsync($"/jobs/{id}"))
            await Assert.That((int)still.StatusCode).IsEqualTo(200);

        await row.Locator("[data-act=delete]").ClickAsync();
        await browser.Page.Clock.ResumeAsync();
        await Expect(row).ToHaveCountAsync(0);
        await Expect(browser.Row("keep-me")).ToBeVisibleAsync();
        using var gone = await ksana.Client.GetAsync($"/jobs/{id}");
        await Assert.That((int)gone.StatusCode).IsEqualTo(404);
    }

    /// <summary>
    /// End to end with a real read key (SPEC §3: a keys-file line "&lt;key&gt; read"). Until the server
    /// understands scopes, it rejects such a key with 401 and this test is skipped, saying so; once
    /// scopes land (and authentication sets HttpContext.Items["ksana.scope"]), it runs by itself.
    /// </summary>
    [Test]
    public async Task Read_key_is_offered_no_actions()
    {
        await using var ksana = await KsanaServer.StartAsync();
        await ksana.CreateJobAsync(Every("report", "1h"));
        var readKey = "read-" + Guid.NewGuid().ToString("N");
        await File.AppendAllTextAsync(ksana.KeysFile!, $"{readKey} read\n");
        using var reader = new HttpClient { BaseAddress = ksana.Address };
        reader.DefaultRequestHeaders.Add("X-API-Key", readKey);
        var accepted = await Poll.Until(async () =>
        {
            using var response = await reader.GetAsync("/jobs");
            return response.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(4));
        if (!accepted) Skip.Test("key scopes (SPEC §3, \"<key> read\") are not implemented by this server yet: a read key is rejected");

        await using var browser = await PageUnderTest.OpenAsync(ksana);
        await browser.EnterKeyAsync(readKey);
        await Expect(browser.Row("report")).ToBeVisibleAsync();
        await Expect(browser.Page.Locator("body")).ToHaveAttributeAsync("data-scope", "read");
        await Expect(browser.Page.Locator("[data-act]")).ToHaveCountAsync(0);
        await Expect(browser.Page.Locator("#new-job")).ToBeHiddenAsync();
    }

    /// <summary>
    /// The page's half of the read-scope contract, today: when GET /ui/session answers
    /// {"scope":"read"} (here answered by the browser, as the server cannot issue read keys yet),
    /// no action is built at all: not hidden, absent.
    /// </summary>
    [Test]
    public async Task Page_builds_no_actions_when_the_session_scope_is_read()
    {
        await using var ksana = await KsanaServer.StartAsync();
        await ksana.CreateJobAsync(Every("report", "1h"));
        await using var browser = await PageUnderTest.OpenAsync(ksana);
        await browser.Page.RouteAsync("**/ui/session", route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 200, ContentType = "application/json", Body = """{"scope":"read"}""",
        }));
        await browser.EnterKeyAsync(ksana.Key);
        await Expect(browser.Row("report")).ToBeVisibleAsync();
        await Expect(browser.Page.Locator("[data-act]")).ToHaveCountAsync(0);
        await Expect(browser.Page.Locator("#new-job")).ToBeHiddenAsync();
        await browser.Row("report").Locator(".job-name").ClickAsync();
        await Expect(browser.Row("report").Locator(".detail")).ToContainTextAsync("No runs yet");
        await browser.ScreenshotAsync("read-scope-desktop");
    }

    [Test]
    public async Task Key_stays_in_session_storage_and_headers_never_in_a_url_cookie_or_local_storage()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        await ksana.CreateJobAsync(Every("leak-check", "1h", callee.Url("/hook")));
        await using var browser = await PageUnderTest.OpenAsync(ksana);
        var page = browser.Page;
        await browser.EnterKeyAsync(ksana.Key);
        var row = browser.Row("leak-check");
        await row.Locator("[data-act=run-now]").ClickAsync();
        await Expect(row.Locator(".col-last-run .badge")).ToHaveTextAsync("✓ succeeded");
        await row.Locator(".job-name").ClickAsync();
        await Expect(row.Locator("details.run")).ToHaveCountAsync(1);

        // A reload in the same tab keeps the key (session storage), without asking again.
        await page.ReloadAsync();
        await Expect(browser.Row("leak-check")).ToBeVisibleAsync();
        await Expect(page.Locator("#gate")).ToBeHiddenAsync();
        await Assert.That(await page.EvaluateAsync<string>("() => sessionStorage.getItem('ksana.key')")).IsEqualTo(ksana.Key);

        await Assert.That(page.Url).DoesNotContain(ksana.Key);
        var requests = browser.Requests;
        foreach (var request in requests)
        {
            await Assert.That(request.Url).DoesNotContain(ksana.Key);
            await Assert.That(request.Url.StartsWith(ksana.Address.ToString(), StringComparison.Ordinal)).IsTrue().Because($"{request.Url} is not this server");
            await Assert.That(request.Headers.ContainsKey("cookie")).IsFalse();
        }
        // Data calls carry the key in the header.
        var dataCalls = requests.Where(r => new Uri(r.Url).AbsolutePath.StartsWith("/jobs", StringComparison.Ordinal)).ToArray();
        await Assert.That(dataCalls.Length).IsGreaterThan(0);
        foreach (var call in dataCalls)
            await Assert.That(call.Headers.TryGetValue("x-api-key", out var sent) ? sent : "").IsEqualTo(ksana.Key);
        await Assert.That(await page.EvaluateAsync<string>("() => document.cookie")).IsEqualTo("");
        await Assert.That(await browser.Context.CookiesAsync()).IsEmpty();
        await Assert.That(await page.EvaluateAsync<int>("() => localStorage.length")).IsEqualTo(0);

        await page.Locator("#forget").ClickAsync();
        await Expect(page.Locator("#gate")).ToBeVisibleAsync();
        await Expect(page.Locator("article.job")).ToHaveCountAsync(0);
        await Assert.That(await page.EvaluateAsync<int>("() => sessionStorage.length")).IsEqualTo(0);
        await Assert.That(browser.Problems).IsEmpty();
    }

    [Test]
    public async Task Wrong_key_and_an_unreachable_server_are_told_plainly()
    {
        var ksana = await KsanaServer.StartAsync();
        try
        {
            await ksana.CreateJobAsync(Every("any", "1h"));
            await using var browser = await PageUnderTest.OpenAsync(ksana);
            var page = browser.Page;

            await browser.EnterKeyAsync("not-the-key");
            await Expect(page.Locator("#key-error")).ToContainTextAsync("401");
            await Expect(page.Locator("#gate")).ToBeVisibleAsync();
            await Assert.That(await page.EvaluateAsync<int>("() => sessionStorage.length")).IsEqualTo(0);
            await browser.ScreenshotAsync("wrong-key-desktop");

            await browser.EnterKeyAsync(ksana.Key);
            await Expect(browser.Row("any")).ToBeVisibleAsync();
            await ksana.StopAsync();
            await Expect(page.Locator("#banner")).ToContainTextAsync("Cannot reach", new() { Timeout = 20_000 });
            await Expect(page.Locator("#live")).ToHaveClassAsync(new Regex(@"\bdown\b"));
            // What was on screen stays there while the server is away.
            await Expect(browser.Row("any")).ToBeVisibleAsync();
            await browser.ScreenshotAsync("unreachable-desktop");
        }
        finally
        {
            await ksana.DisposeAsync();
        }
    }

    [Test]
    public async Task Sections_for_endpoints_this_server_lacks_are_hidden()
    {
        await using var ksana = await KsanaServer.StartAsync();
        await ksana.CreateJobAsync(Every("lonely", "1h"));
        using (var runs = await ksana.Client.GetAsync("/runs?status=failed"))
            if ((int)runs.StatusCode != 404) Skip.Test("this server has GET /runs; the 404 path is covered by the routed test");
        await using var browser = await PageUnderTest.OpenAsync(ksana);
        await browser.EnterKeyAsync(ksana.Key);
        await Expect(browser.Row("lonely")).ToBeVisibleAsync();
        using (var stats = await ksana.Client.GetAsync("/stats/runs-per-minute"))
            if (stats.IsSuccessStatusCode) await Expect(browser.Page.Locator("#chart-card")).ToBeVisibleAsync();
            else await Expect(browser.Page.Locator("#chart-card")).ToBeHiddenAsync();
        await Expect(browser.Page.Locator("#failed-card")).ToBeHiddenAsync();
        await Expect(browser.Page.Locator("#banner")).ToBeHiddenAsync();
        await Assert.That(browser.Problems).IsEmpty();
    }

    /// <summary>
    /// The chart and the failed-runs list, fed by the browser with answers in the shape of SPEC §4/§5
    /// and the stats contract, while the endpoints are being built elsewhere: bars stack by outcome,
    /// failed runs list with their errors, and Replay posts to /runs/{run_id}/replay.
    /// </summary>
    [Test]
    public async Task Chart_and_failed_runs_render_from_their_endpoints_and_replay_posts()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(Every("invoice-push", "1m"));
        await ksana.CreateJobAsync(Every("cache-warm", "30s"));
        await ksana.CreateJobAsync(Once("quarterly-close", DateTimeOffset.UtcNow.AddDays(40)));
        var jobId = job["id"]!.GetValue<string>();
        var now = DateTimeOffset.UtcNow;
        now = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMinute)); // on the minute, as the server's buckets are
        var minutes = new JsonArray();
        for (var i = 59; i >= 0; i--)
            minutes.Add(new JsonObject
            {
                ["at"] = Rfc3339.Format(now.AddMinutes(-i)),
                ["succeeded"] = 3 + (i * 7 % 5),
                ["failed"] = i % 9 == 0 ? 2 : 0,
                ["skipped"] = i % 13 == 0 ? 1 : 0,
                ["missed"] = i == 40 ? 1 : 0,
            });
        var failedRun = new JsonObject
        {
            ["run_id"] = "0123456789abcdef0123456789abcdef",
            ["job_id"] = jobId,
            ["trigger"] = "schedule",
            ["status"] = "failed",
            ["scheduled_at"] = Rfc3339.Format(now.AddMinutes(-3)),
            ["finished_at"] = Rfc3339.Format(now.AddMinutes(-2)),
            ["error"] = "HTTP 503 after 4 attempts",
            ["replays"] = 0,
            ["attempts"] = new JsonArray(Enumerable.Range(1, 4).Select(n => (JsonNode)new JsonObject
            {
                ["attempt"] = n, ["started_at"] = Rfc3339.Format(now.AddMinutes(-3).AddSeconds(n * 5)),
                ["duration_ms"] = 120 + n, ["status_code"] = 503, ["error"] = null, ["response"] = "{\"error\":\"upstream unavailable\"}",
            }).ToArray()),
        };
        await using var browser = await PageUnderTest.OpenAsync(ksana);
        var page = browser.Page;
        var replays = new List<string>();
        await page.RouteAsync("**/stats/runs-per-minute", route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 200, ContentType = "application/json", Body = new JsonObject { ["minutes"] = minutes.DeepClone() }.ToJsonString(),
        }));
        await page.RouteAsync(new Regex(@"/runs(\?|/)"), async route =>
        {
            if (route.Request.Method == "POST")
            {
                replays.Add(new Uri(route.Request.Url).AbsolutePath);
                await route.FulfillAsync(new RouteFulfillOptions { Status = 202, ContentType = "application/json", Body = """{"run_id":"0123456789abcdef0123456789abcdef"}""" });
                return;
            }
            await route.FulfillAsync(new RouteFulfillOptions
            {
                Status = 200, ContentType = "application/json",
                Body = new JsonObject { ["runs"] = new JsonArray(failedRun.DeepClone()), ["next_cursor"] = null }.ToJsonString(),
            });
        });
        await browser.EnterKeyAsync(ksana.Key);

        await Expect(page.Locator("#chart-card")).ToBeVisibleAsync();
        await Expect(page.Locator("#chart g.bar")).ToHaveCountAsync(60);
        await Expect(page.Locator("#legend")).ToContainTextAsync("failed 14");
        await Expect(page.Locator("#failed-card")).ToBeVisibleAsync();
        var failed = page.Locator(".failed-run");
        await Expect(failed).ToHaveCountAsync(1);
        await Expect(failed.Locator(".job-ref")).ToHaveTextAsync("invoice-push");
        await Expect(failed.Locator(".err")).ToHaveTextAsync("HTTP 503 after 4 attempts");
        await browser.ScreenshotAsync("overview-desktop");
        await page.SetViewportSizeAsync(PageUnderTest.Phone.Width, PageUnderTest.Phone.Height);
        await browser.ScreenshotAsync("overview-phone");

        await failed.Locator("[data-act=replay]").ClickAsync();
        await Expect(page.Locator(".toast")).ToContainTextAsync("Replay started");
        await Assert.That(replays).IsEquivalentTo(["/runs/0123456789abcdef0123456789abcdef/replay"]);
        await Assert.That(browser.Problems).IsEmpty();
    }
}
