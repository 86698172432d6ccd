using System.Text;
using System.Text.Json.Nodes;

namespace Ksana.Tests.Integration;

/// <summary>When runs fail (SPEC §5, §9): excerpts, the dead-letter view, replay, auto-pause, kept failures.</summary>
public class FailureTests
{
    static async Task<JsonObject> FinishedRun(KsanaServer ksana, string jobId)
    {
        var runId = await ksana.RunNowAsync(jobId);
        return await ksana.WaitForRunAsync(jobId, runId);
    }

    [Test]
    public async Task Each_attempt_keeps_the_first_KiB_of_the_answer_as_text()
    {
        await using var callee = await Callee.StartAsync();
        var big = Encoding.UTF8.GetBytes(new string('é', 600)); // 1200 bytes: the cut falls inside a character
        callee.Script("/a", new Reply(500, Body: Encoding.UTF8.GetBytes("{\"error\":\"boom\"}")), new Reply(200, Body: big));
        callee.Script("/b", new Reply(204), new Reply(400, Body: [0x66, 0xFF, 0x6F]));
        await using var ksana = await KsanaServer.StartAsync();
        var a = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/a"), maxRetries: 1));
        var run = await FinishedRun(ksana, a["id"]!.GetValue<string>());
        var attempts = run["attempts"]!.AsArray();
        await Assert.That(attempts[0]!["response"]!.GetValue<string>()).IsEqualTo("{\"error\":\"boom\"}");
        var excerpt = attempts[1]!["response"]!.GetValue<string>();
        await Assert.That(Encoding.UTF8.GetByteCount(excerpt)).IsLessThanOrEqualTo(1026);
        await Assert.That(excerpt).StartsWith(new string('é', 500));

        var b = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/b")));
        var first = await FinishedRun(ksana, b["id"]!.GetValue<string>());
        await Assert.That(first["attempts"]![0]!["response"]).IsNull();
        var second = await FinishedRun(ksana, b["id"]!.GetValue<string>());
        await Assert.That(second["attempts"]![0]!["response"]!.GetValue<string>()).IsEqualTo("f\uFFFDo");
    }

    [Test]
    public async Task Failed_runs_are_listed_across_jobs_newest_first_with_filters_and_paging()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/bad", new Reply(404)).Always("/good", Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync();
        var bad = (await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/bad"))))["id"]!.GetValue<string>();
        var good = (await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/good"))))["id"]!.GetValue<string>();
        var failed = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            failed.Add((await FinishedRun(ksana, bad))["run_id"]!.GetValue<string>());
            await FinishedRun(ksana, good);
        }
        failed.Reverse();

        var all = await ksana.GetJsonAsync("/runs?status=failed");
        await Assert.That(all["runs"]!.AsArray().Select(r => r!["run_id"]!.GetValue<string>())).IsEquivalentTo(failed, TUnit.Assertions.Enums.CollectionOrdering.Matching);
        var page1 = await ksana.GetJsonAsync("/runs?status=failed&limit=2");
        var page2 = await ksana.GetJsonAsync($"/runs?status=failed&limit=2&cursor={page1["next_cursor"]}");
        var page3 = await ksana.GetJsonAsync($"/runs?status=failed&limit=2&cursor={page2["next_cursor"]}");
        var paged = new[] { page1, page2, page3 }.SelectMany(p => p["runs"]!.AsArray()).Select(r => r!["run_id"]!.GetValue<string>());
        await Assert.That(paged).IsEquivalentTo(failed, TUnit.Assertions.Enums.CollectionOrdering.Matching);
        await Assert.That(page3["next_cursor"]).IsNull();
        await Assert.That((await ksana.GetJsonAsync($"/runs?job_id={good}"))["runs"]!.AsArray().Count).IsEqualTo(5);
        await Assert.That((await ksana.GetJsonAsync("/runs?since=2099-01-01T00:00:00Z"))["runs"]!.AsArray().Count).IsEqualTo(0);
        var one = await ksana.GetJsonAsync($"/runs/{failed[0]}");
        await Assert.That(one["job_id"]!.GetValue<string>()).IsEqualTo(bad);

        var wrong = await Answer.Of(ksana.Client.GetAsync("/runs?status=lost&job_id=x&since=yesterday&limit=0&cursor=zz"));
        await Assert.That(wrong.Status).IsEqualTo(400);
        await Assert.That(wrong.Errors.Select(e => e.Key)).IsEquivalentTo(new[] { "status", "job_id", "since", "limit", "cursor" });
        await Assert.That((await Answer.Of(ksana.Client.GetAsync($"/runs/{new string('0', 32)}"))).Status).IsEqualTo(404);
    }

    [Test]
    public async Task Replay_delivers_a_failed_run_again_with_the_same_id_and_attempts_numbered_on()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/flaky", new Reply(500), new Reply(500), new Reply(200));
        await using var ksana = await KsanaServer.StartAsync();
        var job = (await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/flaky"), maxRetries: 1)))["id"]!.GetValue<string>();
        var failed = await FinishedRun(ksana, job);
        var runId = failed["run_id"]!.GetValue<string>();
        await Assert.That(failed["status"]!.GetValue<string>()).IsEqualTo("failed");

        var replay = await Answer.Of(ksana.Client.PostAsync($"/runs/{runId}/replay", null));
        await Assert.That(replay.Status).IsEqualTo(202).Because(replay.ToString());
        await Assert.That(replay.Json!["run_id"]!.GetValue<string>()).IsEqualTo(runId);
        var done = await ksana.WaitForRunAsync(job, runId);
        await Assert.That(done["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(done["replays"]!.GetValue<int>()).IsEqualTo(1);
        await Assert.That(done["attempts"]!.AsArray().Select(a => a!["attempt"]!.GetValue<int>())).IsEquivalentTo(new[] { 1, 2, 3 });
        var seen = callee.RequestsTo("/flaky");
        await Assert.That(seen.Select(r => r.Header("X-Ksana-Run-Id")).Distinct()).IsEquivalentTo(new[] { runId });
        await Assert.That(seen.Select(r => r.Header("X-Ksana-Attempt"))).IsEquivalentTo(new[] { "1", "2", "3" });

        // Not failed (any more): 409. Unknown: 404.
        var again = await Answer.Of(ksana.Client.PostAsync($"/runs/{runId}/replay", null));
        await Assert.That(again.Status).IsEqualTo(409);
        await Assert.That((await Answer.Of(ksana.Client.PostAsync($"/runs/{new string('a', 32)}/replay", null))).Status).IsEqualTo(404);
    }

    [Test]
    public async Task Replay_is_409_while_a_run_of_the_job_is_in_flight()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/slow", new Reply(400), new Reply(200, Delay: TimeSpan.FromSeconds(2)));
        await using var ksana = await KsanaServer.StartAsync();
        var job = (await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/slow"), timeout: "5s")))["id"]!.GetValue<string>();
        var failed = (await FinishedRun(ksana, job))["run_id"]!.GetValue<string>();
        await ksana.RunNowAsync(job);
        var busy = await Answer.Of(ksana.Client.PostAsync($"/runs/{failed}/replay", null));
        await Assert.That(busy.Status).IsEqualTo(409);
        await Assert.That(busy.Body).Contains("in flight");
    }

    [Test]
    public async Task Pause_after_failures_pauses_after_exactly_n_and_resume_clears_it()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/x", new Reply(500), new Reply(500), new Reply(200), new Reply(500), new Reply(500), new Reply(500));
        await using var ksana = await KsanaServer.StartAsync();
        var doc = JobDocs.Calling(callee.Url("/x"));
        doc["pause_after_failures"] = 3;
        var job = (await ksana.CreateJobAsync(doc))["id"]!.GetValue<string>();
        await Assert.That((await ksana.GetJsonAsync($"/jobs/{job}"))["pause_after_failures"]!.GetValue<int>()).IsEqualTo(3);

        for (var i = 0; i < 3; i++) await FinishedRun(ksana, job); // fail, fail, succeed: the success resets the count
        await Assert.That((await ksana.GetJsonAsync($"/jobs/{job}"))["enabled"]!.GetValue<bool>()).IsTrue();
        for (var i = 0; i < 2; i++) await FinishedRun(ksana, job);
        await Assert.That((await ksana.GetJsonAsync($"/jobs/{job}"))["state"]!.GetValue<string>()).IsEqualTo("scheduled");
        await FinishedRun(ksana, job);
        var paused = await ksana.GetJsonAsync($"/jobs/{job}");
        await Assert.That(paused["state"]!.GetValue<string>()).IsEqualTo("paused");
        await Assert.That(paused["enabled"]!.GetValue<bool>()).IsFalse();
        await Assert.That(paused["paused_reason"]!.GetValue<string>()).Contains("3 consecutive failed runs");

        await using var again = await ksana.RestartAsync();
        await Assert.That((await again.GetJsonAsync($"/jobs/{job}"))["paused_reason"]!.GetValue<string>()).Contains("3 consecutive");
        var resumed = await Answer.Of(again.Client.PostAsync($"/jobs/{job}/resume", null));
        await Assert.That(resumed.Json!["paused_reason"]).IsNull();
        await Assert.That(resumed.Json!["state"]!.GetValue<string>()).IsEqualTo("scheduled");
    }

    [Test]
    public async Task Failed_runs_are_kept_apart_from_the_most_recent()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/y", new Reply(404), new Reply(404), new Reply(404));
        await using var ksana = await KsanaServer.StartAsync(s => s with { RunsKept = 5 });
        var job = (await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/y"))))["id"]!.GetValue<string>();
        var failed = new List<string>();
        for (var i = 0; i < 3; i++) failed.Add((await FinishedRun(ksana, job))["run_id"]!.GetValue<string>());
        for (var i = 0; i < 8; i++) await FinishedRun(ksana, job);
        var runs = await ksana.RunsAsync(job);
        await Assert.That(runs.Count).IsEqualTo(8);
        await Assert.That(runs.Take(5).All(r => r!["status"]!.GetValue<string>() == "succeeded")).IsTrue();
        await Assert.That(runs.Skip(5).Select(r => r!["run_id"]!.GetValue<string>())).IsEquivalentTo(failed.AsEnumerable().Reverse(), TUnit.Assertions.Enums.CollectionOrdering.Matching);
        await Assert.That((await ksana.GetJsonAsync("/runs?status=failed"))["runs"]!.AsArray().Count).IsEqualTo(3);
    }
}
