using System.Text.Json.Nodes;
using Ksana.Tests.Support;

namespace Ksana.Tests.Integration;

/// <summary>GET /metrics (SPEC §11) on a live server after real work: valid for promtool and true to the run records.</summary>
public sealed class MetricsTests
{
    [Test]
    public async Task After_a_mixed_workload_metrics_pass_promtool_and_match_the_runs()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/ok", Reply.Ok);
        callee.Script("/flaky", new Reply(500), new Reply(200));
        callee.Always("/gone", new Reply(404));
        callee.Always("/slow", new Reply(200, TimeSpan.FromSeconds(2)));
        await using var ksana = await KsanaServer.StartAsync();

        var ok = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/ok")));
        var flaky = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/flaky"), maxRetries: 2));
        var gone = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/gone"), maxRetries: 2));
        var timeout = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/slow"), maxRetries: 1, timeout: "200ms"));
        var refused = await ksana.CreateJobAsync(JobDocs.Calling("http://127.0.0.1:9/closed", maxRetries: 1));
        // Fires every second while each run takes 2 s: slots are skipped.
        var skipping = JobDocs.Calling(callee.Url("/slow"), timeout: "5s");
        skipping["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1s" };
        var skipper = await ksana.CreateJobAsync(skipping);

        var runs = new List<(string Job, string Run)>();
        foreach (var job in new[] { ok, ok, ok, flaky, gone, timeout, refused })
        {
            var id = job["id"]!.GetValue<string>();
            var run = await ksana.RunNowAsync(id);
            runs.Add((id, run));
            await ksana.WaitForRunAsync(id, run);
        }
        var skipperId = skipper["id"]!.GetValue<string>();
        await Assert.That(await Poll.Until(async () => (await ksana.RunsAsync(skipperId)).Any(r => r!["status"]!.GetValue<string>() == "skipped"),
            TimeSpan.FromSeconds(10))).IsTrue();
        using (await ksana.PostEmptyAsync($"/jobs/{skipperId}/pause")) { }
        await Assert.That(await Poll.Until(async () => (await ksana.RunsAsync(skipperId)).All(r => r!["status"]!.GetValue<string>() is not ("running" or "retrying")),
            TimeSpan.FromSeconds(10))).IsTrue();

        var byStatus = new Dictionary<string, int>();
        var attempts = 0;
        foreach (var job in new[] { ok, flaky, gone, timeout, refused, skipper })
            foreach (var run in await ksana.RunsAsync(job["id"]!.GetValue<string>()))
            {
                var status = run!["status"]!.GetValue<string>();
                byStatus[status] = byStatus.GetValueOrDefault(status) + 1;
                attempts += run["attempts"]!.AsArray().Count;
            }

        var text = await ksana.Client.GetStringAsync("/metrics");
        var (exit, output) = await Promtool.CheckMetricsAsync(text);
        await Assert.That(exit).IsEqualTo(0).Because(output);
        var samples = Exposition.Samples(text);
        foreach (var status in new[] { "succeeded", "failed", "skipped", "missed" })
            await Assert.That(samples[$"ksana_runs_total{{status=\"{status}\"}}"]).IsEqualTo(byStatus.GetValueOrDefault(status))
                .Because($"{status}: {text}");
        await Assert.That(byStatus["failed"]).IsEqualTo(3); // 404, timeout twice, connection refused twice
        await Assert.That(samples["ksana_attempts_total{outcome=\"success\"}"]).IsGreaterThanOrEqualTo(5);
        await Assert.That(samples["ksana_attempts_total{outcome=\"http_error\"}"]).IsEqualTo(2); // the flaky 500, the 404
        await Assert.That(samples["ksana_attempts_total{outcome=\"timeout\"}"]).IsEqualTo(2);
        await Assert.That(samples["ksana_attempts_total{outcome=\"connection_error\"}"]).IsEqualTo(2);
        var counted = new[] { "success", "http_error", "timeout", "connection_error", "blocked" }
            .Sum(o => samples[$"ksana_attempts_total{{outcome=\"{o}\"}}"]);
        await Assert.That(counted).IsEqualTo(attempts);
        await Assert.That(samples["ksana_attempts_in_flight"]).IsEqualTo(0);
        await Assert.That(samples["ksana_retries_waiting"]).IsEqualTo(0);
        await Assert.That(samples["ksana_run_lateness_seconds_count"]).IsGreaterThanOrEqualTo(7);
        await Assert.That(samples["ksana_attempt_duration_seconds_count"]).IsEqualTo(attempts);
        await Assert.That(samples["ksana_jobs{state=\"scheduled\"}"]).IsEqualTo(5);
        await Assert.That(samples["ksana_jobs{state=\"paused\"}"]).IsEqualTo(1);
        await Assert.That(samples["ksana_journal_sync_seconds_count"]).IsGreaterThan(0);
        await Assert.That(samples["ksana_journal_bytes"]).IsGreaterThan(0);

        var perMinute = await ksana.GetJsonAsync("/stats/runs-per-minute");
        var succeeded = perMinute["minutes"]!.AsArray().Sum(m => m!["succeeded"]!.GetValue<long>());
        await Assert.That(succeeded).IsEqualTo(byStatus["succeeded"]);
    }
}
