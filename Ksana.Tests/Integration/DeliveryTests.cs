using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ksana.Hosting;

namespace Ksana.Tests.Integration;

/// <summary>
/// Calling the target (SPEC §5) against a real callee on loopback that records what arrives and
/// answers from a script. Runs are started with run-now; small real durations, no long sleeps.
/// </summary>
public sealed partial class DeliveryTests
{
    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex RunId();

    static string Id(JsonObject job) => job["id"]!.GetValue<string>();

    static string Seq<T>(IEnumerable<T> items) => string.Join(",", items);

    static IEnumerable<int> AttemptNumbers(JsonObject run) => run["attempts"]!.AsArray().Select(a => a!["attempt"]!.GetValue<int>());

    static IEnumerable<int?> AttemptCodes(JsonObject run) => run["attempts"]!.AsArray().Select(a => a!["status_code"]?.GetValue<int>());

    [Test]
    public async Task Success_on_200_sends_the_job_request_and_the_ksana_headers()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        var doc = JobDocs.Calling(callee.Url("/hook?x=1"), method: "PUT");
        doc["http"]!["headers"] = new JsonObject { ["Content-Type"] = "application/json", ["X-Custom"] = "abc", ["Authorization"] = "Bearer t0k3n" };
        doc["http"]!["body"] = "{\"hello\": \"world\"}";
        var job = await ksana.CreateJobAsync(doc);

        var runId = await ksana.RunNowAsync(Id(job));
        var run = await ksana.WaitForRunAsync(Id(job), runId);

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(run["trigger"]!.GetValue<string>()).IsEqualTo("manual");
        await Assert.That(run["job_id"]!.GetValue<string>()).IsEqualTo(Id(job));
        await Assert.That(run["finished_at"]).IsNotNull();
        await Assert.That(Seq(AttemptNumbers(run))).IsEqualTo("1");
        await Assert.That(Seq(AttemptCodes(run))).IsEqualTo("200");
        await Assert.That(run["attempts"]![0]!["error"]).IsNull();
        await Assert.That(run["attempts"]![0]!["started_at"]!.GetValue<string>()).EndsWith("Z");

        var requests = callee.Requests;
        await Assert.That(requests.Count).IsEqualTo(1);
        var r = requests[0];
        await Assert.That(r.Method).IsEqualTo("PUT");
        await Assert.That(r.Path).IsEqualTo("/hook");
        await Assert.That(r.Body).IsEqualTo("{\"hello\": \"world\"}");
        await Assert.That(RunId().IsMatch(r.Header("X-Ksana-Run-Id"))).IsTrue();
        await Assert.That(r.Header("X-Ksana-Run-Id")).IsEqualTo(runId);
        await Assert.That(r.Header("X-Ksana-Job-Id")).IsEqualTo(Id(job));
        await Assert.That(r.Header("X-Ksana-Attempt")).IsEqualTo("1");
        await Assert.That(r.Header("User-Agent")).IsEqualTo($"ksana/{Settings.Version}");
        await Assert.That(r.Header("X-Custom")).IsEqualTo("abc");
        await Assert.That(r.Header("Authorization")).IsEqualTo("Bearer t0k3n");
        await Assert.That(r.Header("Content-Type")).IsEqualTo("application/json");

        var after = await ksana.GetJsonAsync($"/jobs/{Id(job)}");
        await Assert.That(after["last_run"]!["run_id"]!.GetValue<string>()).IsEqualTo(runId);
        await Assert.That(after["last_run"]!["status"]!.GetValue<string>()).IsEqualTo("succeeded");
    }

    [Test]
    [Arguments("GET")]
    [Arguments("DELETE")]
    [Arguments("HEAD")]
    [Arguments("OPTIONS")]
    [Arguments("PATCH")]
    public async Task Each_method_is_sent_as_given(string method)
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/m"), method: method.ToLowerInvariant()));
        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(callee.Requests.Single().Method).IsEqualTo(method);
    }

    [Test]
    public async Task Retry_after_503_keeps_one_run_with_the_same_run_id()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/flaky", new Reply(503), Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/flaky"), maxRetries: 3));

        var runId = await ksana.RunNowAsync(Id(job));
        var run = await ksana.WaitForRunAsync(Id(job), runId);

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(Seq(AttemptNumbers(run))).IsEqualTo("1,2");
        await Assert.That(Seq(AttemptCodes(run))).IsEqualTo("503,200");
        var requests = callee.RequestsTo("/flaky");
        await Assert.That(requests.Count).IsEqualTo(2);
        await Assert.That(Seq(requests.Select(q => q.Header("X-Ksana-Run-Id")))).IsEqualTo($"{runId},{runId}");
        await Assert.That(Seq(requests.Select(q => q.Header("X-Ksana-Attempt")))).IsEqualTo("1,2");
        var runs = await ksana.RunsAsync(Id(job));
        await Assert.That(runs.Count).IsEqualTo(1);
    }

    [Test]
    [Arguments(408)]
    [Arguments(429)]
    [Arguments(500)]
    [Arguments(502)]
    public async Task Retryable_statuses_are_retried(int status)
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/r", new Reply(status), Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/r"), maxRetries: 1));
        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(Seq(AttemptCodes(run))).IsEqualTo($"{status},200");
    }

    [Test]
    [Arguments(400)]
    [Arguments(401)]
    [Arguments(404)]
    [Arguments(410)]
    public async Task Other_4xx_fails_without_a_retry(int status)
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/bad", new Reply(status));
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/bad"), maxRetries: 3));

        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("failed");
        await Assert.That(Seq(AttemptNumbers(run))).IsEqualTo("1");
        await Assert.That(Seq(AttemptCodes(run))).IsEqualTo($"{status}");
        // Backoff is 50ms: a retry, if any, would have arrived by now.
        await Task.Delay(300);
        await Assert.That(callee.Requests.Count).IsEqualTo(1);
        var after = await ksana.GetJsonAsync($"/jobs/{Id(job)}");
        await Assert.That(after["last_run"]!["status"]!.GetValue<string>()).IsEqualTo("failed");
    }

    [Test]
    public async Task Always_500_with_max_retries_2_makes_3_attempts_then_fails()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/down", new Reply(500));
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/down"), maxRetries: 2));

        var runId = await ksana.RunNowAsync(Id(job));
        var run = await ksana.WaitForRunAsync(Id(job), runId);

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("failed");
        await Assert.That(Seq(AttemptNumbers(run))).IsEqualTo("1,2,3");
        await Assert.That(Seq(AttemptCodes(run))).IsEqualTo("500,500,500");
        await Task.Delay(400);
        var requests = callee.RequestsTo("/down");
        await Assert.That(requests.Count).IsEqualTo(3);
        await Assert.That(Seq(requests.Select(q => q.Header("X-Ksana-Attempt")))).IsEqualTo("1,2,3");
        await Assert.That(requests.Select(q => q.Header("X-Ksana-Run-Id")).Distinct().Single()).IsEqualTo(runId);
        // Backoff 50ms then 100ms, each ±20 %.
        await Assert.That(requests[1].Since(requests[0]).TotalMilliseconds).IsGreaterThanOrEqualTo(38);
        await Assert.That(requests[2].Since(requests[1]).TotalMilliseconds).IsGreaterThanOrEqualTo(78);
    }

    [Test]
    public async Task Max_retries_0_makes_one_attempt()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/once", new Reply(503));
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/once"), maxRetries: 0));
        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("failed");
        await Assert.That(Seq(AttemptCodes(run))).IsEqualTo("503");
        await Task.Delay(300);
        await Assert.That(callee.Requests.Count).IsEqualTo(1);
    }

    [Test]
    public async Task A_slow_callee_times_out_and_the_attempt_is_retried()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/slow", new Reply(200, TimeSpan.FromSeconds(2)), Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/slow"), maxRetries: 1, timeout: "200ms"));

        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        var attempts = run["attempts"]!.AsArray();
        await Assert.That(attempts.Count).IsEqualTo(2);
        await Assert.That(attempts[0]!["status_code"]).IsNull();
        await Assert.That(attempts[0]!["error"]!.GetValue<string>()).Contains("timeout");
        // Bounded by the timeout, not by the callee's two seconds.
        var duration = attempts[0]!["duration_ms"]!.GetValue<long>();
        await Assert.That(duration).IsGreaterThanOrEqualTo(150).And.IsLessThan(1500);
        await Assert.That(attempts[1]!["status_code"]!.GetValue<int>()).IsEqualTo(200);
        await Assert.That(callee.RequestsTo("/slow").Count).IsEqualTo(2);
    }

    [Test]
    public async Task A_callee_that_always_times_out_fails_the_run_with_a_timeout_error()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/hang", new Reply(200, TimeSpan.FromSeconds(3)));
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/hang"), maxRetries: 1, timeout: "200ms"));

        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("failed");
        await Assert.That(Seq(AttemptNumbers(run))).IsEqualTo("1,2");
        foreach (var attempt in run["attempts"]!.AsArray())
            await Assert.That(attempt!["error"]!.GetValue<string>()).Contains("timeout");
    }

    [Test]
    public async Task A_connection_error_is_recorded_and_retried()
    {
        await using var ksana = await KsanaServer.StartAsync();
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        var job = await ksana.CreateJobAsync(JobDocs.Calling("http://127.0.0.1:9/refused", maxRetries: 1));
        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("failed");
        await Assert.That(Seq(AttemptNumbers(run))).IsEqualTo("1,2");
        foreach (var attempt in run["attempts"]!.AsArray())
        {
            await Assert.That(attempt!["status_code"]).IsNull();
            await Assert.That(attempt["error"]!.GetValue<string>().Length).IsGreaterThan(0);
        }
        await Assert.That(run["error"]).IsNotNull();
    }

    /// <summary>Waits (real time) until the run is waiting for its retry after <paramref name="attempts"/> attempts.</summary>
    static Task<bool> RetryPending(KsanaServer ksana, string jobId, string runId, int attempts) => Poll.Until(async () =>
        (await ksana.RunsAsync(jobId)).Any(r => r!["run_id"]!.GetValue<string>() == runId && r["status"]!.GetValue<string>() == "retrying"
            && r["attempts"]!.AsArray().Count == attempts), TimeSpan.FromSeconds(5));

    [Test]
    [Arguments(429)]
    [Arguments(503)]
    public async Task Retry_After_longer_than_the_backoff_is_honoured(int status)
    {
        var clock = FakeClock.AtNow();
        await using var callee = await Callee.StartAsync(clock);
        callee.Script("/busy", new Reply(status, Headers: new() { ["Retry-After"] = "1" }), Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync(time: clock);
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/busy"), maxRetries: 2, backoff: "50ms"));

        var runId = await ksana.RunNowAsync(Id(job));
        await Assert.That(await RetryPending(ksana, Id(job), runId, 1)).IsTrue();
        await Assert.That(await clock.AdvanceUntilAsync(() => callee.RequestsTo("/busy").Count == 2, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2))).IsTrue();
        var run = await ksana.WaitForRunAsync(Id(job), runId);

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        var requests = callee.RequestsTo("/busy");
        await Assert.That(requests.Count).IsEqualTo(2);
        // On the fake clock the wait is exact: Retry-After's second, not the 50 ms backoff.
        await Assert.That(requests[1].Since(requests[0])).IsEqualTo(TimeSpan.FromSeconds(1));
    }

    [Test]
    public async Task Retry_After_on_a_500_is_not_honoured()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/err", new Reply(500, Headers: new() { ["Retry-After"] = "3" }), Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/err"), maxRetries: 1, backoff: "50ms"));

        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        var requests = callee.RequestsTo("/err");
        await Assert.That(requests[1].Since(requests[0]).TotalMilliseconds).IsLessThan(1500);
    }

    [Test]
    public async Task Retry_After_shorter_than_the_backoff_does_not_shorten_it()
    {
        var clock = FakeClock.AtNow();
        await using var callee = await Callee.StartAsync(clock);
        callee.Script("/slowdown", new Reply(503, Headers: new() { ["Retry-After"] = "0" }), Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync(time: clock);
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/slowdown"), maxRetries: 1, backoff: "600ms"));

        var runId = await ksana.RunNowAsync(Id(job));
        await Assert.That(await RetryPending(ksana, Id(job), runId, 1)).IsTrue();
        await Assert.That(await clock.AdvanceUntilAsync(() => callee.RequestsTo("/slowdown").Count == 2, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(2))).IsTrue();
        var run = await ksana.WaitForRunAsync(Id(job), runId);

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        var requests = callee.RequestsTo("/slowdown");
        // 600ms −20 % = 480ms at the least (to the 10 ms step of the fake clock), +20 % = 720 ms at the most.
        await Assert.That(requests[1].Since(requests[0]).TotalMilliseconds).IsGreaterThanOrEqualTo(480).And.IsLessThanOrEqualTo(730);
    }

    [Test]
    public async Task Redirect_is_not_followed_and_fails_the_run()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/moved", new Reply(302, Headers: new() { ["Location"] = callee.Url("/target") }));
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/moved"), maxRetries: 3));

        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("failed");
        await Assert.That(Seq(AttemptCodes(run))).IsEqualTo("302");
        await Task.Delay(300);
        await Assert.That(callee.RequestsTo("/target").Count).IsEqualTo(0);
        await Assert.That(callee.RequestsTo("/moved").Count).IsEqualTo(1);
    }

    [Test]
    public async Task Placeholders_are_filled_at_each_attempt_and_other_text_is_untouched()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/fill", new Reply(503), Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync();
        var doc = JobDocs.Calling(callee.Url("/fill"), maxRetries: 1);
        const string untouched = "{{unknown}} {{ job_id }} {job_id} {{JOB_ID}} $job_id {{run_id";
        doc["http"]!["body"] = "{\"job\":\"{{job_id}}\",\"run\":\"{{run_id}}\",\"scheduled\":\"{{scheduled_at}}\",\"triggered\":\"{{triggered_at}}\","
            + "\"attempt\":\"{{attempt}}\",\"again\":\"{{run_id}}\",\"other\":\"" + untouched + "\"}";
        doc["http"]!["headers"] = new JsonObject { ["Content-Type"] = "application/json" };
        var job = await ksana.CreateJobAsync(doc);

        var runId = await ksana.RunNowAsync(Id(job));
        var run = await ksana.WaitForRunAsync(Id(job), runId);

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        var requests = callee.RequestsTo("/fill");
        await Assert.That(requests.Count).IsEqualTo(2);
        for (var i = 0; i < 2; i++)
        {
            var body = JsonNode.Parse(requests[i].Body)!;
            await Assert.That(body["job"]!.GetValue<string>()).IsEqualTo(Id(job));
            await Assert.That(body["run"]!.GetValue<string>()).IsEqualTo(runId);
            await Assert.That(body["again"]!.GetValue<string>()).IsEqualTo(runId);
            await Assert.That(body["attempt"]!.GetValue<string>()).IsEqualTo($"{i + 1}");
            await Assert.That(body["scheduled"]!.GetValue<string>()).IsEqualTo(run["scheduled_at"]!.GetValue<string>());
            var triggered = body["triggered"]!.GetValue<string>();
            await Assert.That(triggered).EndsWith("Z");
            var at = DateTimeOffset.Parse(triggered, System.Globalization.CultureInfo.InvariantCulture);
            await Assert.That(Math.Abs((at - requests[0].ArrivedAt).TotalSeconds)).IsLessThan(5);
            await Assert.That(body["other"]!.GetValue<string>()).IsEqualTo(untouched);
        }
    }

    [Test]
    public async Task Deleting_a_job_during_a_pending_retry_stops_further_attempts()
    {
        var clock = FakeClock.AtNow();
        await using var callee = await Callee.StartAsync(clock);
        callee.Always("/gone", new Reply(500));
        await using var ksana = await KsanaServer.StartAsync(time: clock);
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/gone"), maxRetries: 5, backoff: "700ms"));

        var runId = await ksana.RunNowAsync(Id(job));
        await Assert.That(await RetryPending(ksana, Id(job), runId, 1)).IsTrue();
        var deleted = await Answer.Of(ksana.Client.DeleteAsync($"/jobs/{Id(job)}"));
        await Assert.That(deleted.Status).IsEqualTo(204);

        // The retry was due 560–840 ms after the first attempt; move the clock well past it.
        await Assert.That(await clock.AdvanceUntilAsync(() => callee.RequestsTo("/gone").Count > 1, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(3))).IsFalse();
        await Assert.That(callee.RequestsTo("/gone").Count).IsEqualTo(1);
        await Assert.That((await Answer.Of(ksana.Client.GetAsync($"/jobs/{Id(job)}"))).Status).IsEqualTo(404);
    }

    [Test]
    public async Task Deleting_a_job_cancels_its_attempt_in_flight()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/long", new Reply(500, TimeSpan.FromSeconds(3)));
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/long"), maxRetries: 3, backoff: "50ms", timeout: "5s"));

        await ksana.RunNowAsync(Id(job));
        await Assert.That(await Poll.Until(() => callee.RequestsTo("/long").Count >= 1, TimeSpan.FromSeconds(5))).IsTrue();
        await Assert.That((await Answer.Of(ksana.Client.DeleteAsync($"/jobs/{Id(job)}"))).Status).IsEqualTo(204);

        await Task.Delay(700);
        await Assert.That(callee.RequestsTo("/long").Count).IsEqualTo(1);
    }

    [Test]
    public async Task With_one_worker_two_slow_jobs_never_overlap()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/a", new Reply(200, TimeSpan.FromMilliseconds(300)));
        callee.Always("/b", new Reply(200, TimeSpan.FromMilliseconds(300)));
        await using var ksana = await KsanaServer.StartAsync(s => s with { Workers = 1 });
        var a = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/a")));
        var b = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/b")));

        var runA = await ksana.RunNowAsync(Id(a));
        var runB = await ksana.RunNowAsync(Id(b));
        var doneA = await ksana.WaitForRunAsync(Id(a), runA);
        var doneB = await ksana.WaitForRunAsync(Id(b), runB);

        await Assert.That(doneA["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(doneB["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(callee.InFlightMax).IsEqualTo(1);
        var requests = callee.Requests.OrderBy(r => r.ArrivedTimestamp).ToList();
        await Assert.That(requests.Count).IsEqualTo(2);
        await Assert.That(requests[1].Since(requests[0]).TotalMilliseconds).IsGreaterThanOrEqualTo(280);
    }

    [Test]
    public async Task With_enough_workers_slow_jobs_run_at_once()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/a", new Reply(200, TimeSpan.FromMilliseconds(400)));
        callee.Always("/b", new Reply(200, TimeSpan.FromMilliseconds(400)));
        await using var ksana = await KsanaServer.StartAsync(s => s with { Workers = 2 });
        var a = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/a")));
        var b = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/b")));

        var runA = await ksana.RunNowAsync(Id(a));
        var runB = await ksana.RunNowAsync(Id(b));
        await ksana.WaitForRunAsync(Id(a), runA);
        await ksana.WaitForRunAsync(Id(b), runB);

        await Assert.That(callee.InFlightMax).IsEqualTo(2);
    }

    [Test]
    public async Task A_run_waiting_for_its_retry_holds_no_worker()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/wait", new Reply(503));
        await using var ksana = await KsanaServer.StartAsync(s => s with { Workers = 1 });
        var waiting = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/wait"), maxRetries: 1, backoff: "1500ms"));
        var other = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/other")));

        await ksana.RunNowAsync(Id(waiting));
        await Assert.That(await Poll.Until(() => callee.RequestsTo("/wait").Count >= 1, TimeSpan.FromSeconds(5))).IsTrue();
        var otherRun = await ksana.RunNowAsync(Id(other));
        var done = await ksana.WaitForRunAsync(Id(other), otherRun, TimeSpan.FromSeconds(5));

        await Assert.That(done["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        var first = callee.RequestsTo("/wait")[0];
        var served = callee.RequestsTo("/other").Single();
        // Served while the first run was still waiting out its backoff (1.2–1.8 s).
        await Assert.That(served.Since(first).TotalMilliseconds).IsLessThan(1000);
        await Assert.That(callee.RequestsTo("/wait").Count).IsEqualTo(1);
    }

    [Test]
    public async Task Runs_record_retrying_while_a_retry_is_pending()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/later", new Reply(503), Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/later"), maxRetries: 1, backoff: "1s"));

        var runId = await ksana.RunNowAsync(Id(job));
        var sawRetrying = await Poll.Until(async () =>
            (await ksana.RunsAsync(Id(job))).Any(r => r!["run_id"]!.GetValue<string>() == runId && r["status"]!.GetValue<string>() == "retrying"),
            TimeSpan.FromSeconds(1.5));
        var run = await ksana.WaitForRunAsync(Id(job), runId);

        await Assert.That(sawRetrying).IsTrue();
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(Seq(AttemptCodes(run))).IsEqualTo("503,200");
    }

    [Test]
    public async Task Job_defaults_from_settings_drive_retries()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/defaults", new Reply(500));
        await using var ksana = await KsanaServer.StartAsync(s => s with { MaxRetries = 1, RetryBackoff = Duration.FromMilliseconds(50) });
        var doc = JobDocs.Calling(callee.Url("/defaults"));
        doc.Remove("max_retries");
        doc.Remove("retry_backoff");
        var job = await ksana.CreateJobAsync(doc);
        await Assert.That(job["max_retries"]!.GetValue<int>()).IsEqualTo(1);
        await Assert.That(job["retry_backoff"]!.GetValue<string>()).IsEqualTo("50ms");

        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));

        await Assert.That(Seq(AttemptCodes(run))).IsEqualTo("500,500");
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("failed");
    }
}
