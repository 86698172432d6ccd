using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §2 "Timing" and §5 seen from a real callee: the grid, the once job, what each call carries.</summary>
public sealed class DeliveryTests
{
    const string Key = "delivery-key";

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task An_every_1s_job_fires_on_its_grid()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = ksana.Api(Key);

        var job = await api.CreateJobAsync(JobDocs.Every("grid", callee.Url("/grid"), "1s"));
        var jobId = job!["id"]?.GetValue<string>()!;
        var createdAt = JobDocs.Time(job!["created_at"]);
        var every = TimeSpan.FromSeconds(1);
        await Assert.That(JobDocs.Time(job!["next_run_at"])).IsEqualTo(createdAt + every);

        var seen = await callee.WaitForAsync("/grid", 4, TimeSpan.FromSeconds(8));
        await api.SendAsync(HttpMethod.Delete, $"/jobs/{jobId}");
        var calls = seen.Take(4).ToArray();
        var grid = Grid.Describe(calls, createdAt, every);
        Console.WriteLine(grid);

        // Slots 1, 2, 3, 4 after created_at, each once, each on time.
        var slots = calls.Select(r => Grid.SlotIndex(createdAt, every, r.ArrivedAt)).ToArray();
        await Assert.That(string.Join(",", slots)).IsEqualTo("1,2,3,4").Because(grid);
        foreach (var call in calls)
        {
            var slot = Grid.Slot(createdAt, every, Grid.SlotIndex(createdAt, every, call.ArrivedAt));
            await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(slot - Grid.Early).Because("early call\n" + grid);
            await Assert.That(call.ArrivedAt - slot).IsLessThanOrEqualTo(Grid.Tolerance).Because("late call\n" + grid);

            // What each call carries (SPEC §5), and the placeholders of SPEC §2 filled in its body.
            await Assert.That(call.JobId).IsEqualTo(jobId);
            await Assert.That(Regex.IsMatch(call.RunId, "^[0-9a-f]{32}$")).IsTrue().Because($"X-Ksana-Run-Id: {call.RunId}");
            await Assert.That(call.Header("X-Ksana-Attempt")).IsEqualTo("1");
            await Assert.That(call.Header("User-Agent")).StartsWith("ksana/");
            await Assert.That(call.Method).IsEqualTo("POST");
            var body = JsonNode.Parse(call.Body)!;
            await Assert.That(body!["job_id"]?.GetValue<string>()).IsEqualTo(jobId);
            await Assert.That(body!["run_id"]?.GetValue<string>()).IsEqualTo(call.RunId);
            await Assert.That(JobDocs.Time(body!["scheduled_at"])).IsEqualTo(slot).Because(call.Body);
            await Assert.That(JobDocs.Time(body!["triggered_at"])).IsGreaterThanOrEqualTo(slot).Because(call.Body);
            await Assert.That(body!["attempt"]?.GetValue<int>()).IsEqualTo(1);
        }
        await Assert.That(calls.Select(c => c.RunId).Distinct().Count()).IsEqualTo(calls.Length);
        // Nothing beyond one call per slot, up to the moment the job was deleted.
        var all = callee.RequestsTo("/grid");
        await Assert.That(all.Select(r => Grid.SlotIndex(createdAt, every, r.ArrivedAt)).Distinct().Count()).IsEqualTo(all.Count)
            .Because(Grid.Describe(all, createdAt, every));
    }

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task A_once_job_fires_once_at_run_at_and_completes()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = ksana.Api(Key);

        callee.Always("/once", Reply.Slow(TimeSpan.FromMilliseconds(800)));
        var runAt = JobDocs.WholeSecondAfter(TimeSpan.FromSeconds(1.5));
        var job = await api.CreateJobAsync(JobDocs.Once("once", callee.Url("/once"), runAt));
        var jobId = job!["id"]?.GetValue<string>()!;
        await Assert.That(job!["state"]?.GetValue<string>()).IsEqualTo("scheduled");
        await Assert.That(JobDocs.Time(job!["next_run_at"])).IsEqualTo(runAt);

        var call = (await callee.WaitForAsync("/once", 1, runAt - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(3)))[0];
        var timing = $"run_at {Rfc3339.Format(runAt)}, arrived {Rfc3339.Format(call.ArrivedAt)}";
        Console.WriteLine(timing);
        await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(runAt - Grid.Early).Because(timing);
        await Assert.That(call.ArrivedAt - runAt).IsLessThanOrEqualTo(Grid.Tolerance).Because(timing);
        await Assert.That(JobDocs.Time(JsonNode.Parse(call.Body)!["scheduled_at"])).IsEqualTo(runAt);

        // While the callee still holds the call, the run has not ended, so the job is not yet
        // "completed" (SPEC §2: a once job whose run ended).
        var during = await api.GetJobAsync(jobId);
        if (call.AnsweredAt is null)
            await Assert.That(during!["state"]?.GetValue<string>()).IsNotEqualTo("completed")
                .Because($"the callee has not answered yet, but GET /jobs/{{id}} says: {during}");

        var done = await api.WaitJobAsync(jobId, j => j!["state"]?.GetValue<string>() == "completed", TimeSpan.FromSeconds(5));
        await Assert.That(done!["state"]?.GetValue<string>()).IsEqualTo("completed").Because(done.ToString());
        await Assert.That(done!["last_run"]!["status"]?.GetValue<string>()).IsEqualTo("succeeded").Because(done.ToString());
        await Assert.That(done!["last_run"]!["run_id"]?.GetValue<string>()).IsEqualTo(call.RunId);
        await Assert.That(done["next_run_at"]).IsNull().Because(done.ToString());

        var runs = await api.RunsAsync(jobId);
        await Assert.That(runs.Count).IsEqualTo(1);
        await Assert.That(runs[0]!["trigger"]?.GetValue<string>()).IsEqualTo("schedule");
        await Assert.That(JobDocs.Time(runs[0]!["scheduled_at"])).IsEqualTo(runAt);
        await Assert.That(runs[0]!["attempts"]![0]!["status_code"]?.GetValue<int>()).IsEqualTo(200);

        await Task.Delay(1200);
        await Assert.That(callee.RequestsTo("/once").Count).IsEqualTo(1).Because("a once job fires once");
    }

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task An_every_job_with_start_at_fires_on_the_grid_of_start_at()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = ksana.Api(Key);

        // One grid starting in the future (its first slot is start_at itself), one in the past.
        var every = TimeSpan.FromSeconds(1);
        var future = JobDocs.WholeSecondAfter(TimeSpan.FromSeconds(1));
        var past = future.AddSeconds(-3600).AddMilliseconds(500);
        var futureJob = JobDocs.Every("start-future", callee.Url("/future"), "1s");
        futureJob["schedule"]!["start_at"] = Rfc3339.Format(future);
        var pastJob = JobDocs.Every("start-past", callee.Url("/past"), "1s");
        pastJob["schedule"]!["start_at"] = Rfc3339.Format(past);
        var f = await api.CreateJobAsync(futureJob);
        var p = await api.CreateJobAsync(pastJob);
        await Assert.That(JobDocs.Time(f!["next_run_at"])).IsEqualTo(future).Because(f.ToString());
        var createdAt = JobDocs.Time(p!["created_at"]);
        await Assert.That(JobDocs.Time(p!["next_run_at"]))
            .IsEqualTo(Grid.Slot(past, every, (long)Math.Floor((createdAt - past) / every) + 1)).Because(p.ToString());

        var futureCalls = (await callee.WaitForAsync("/future", 2, future - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(3))).Take(2).ToArray();
        var pastCalls = (await callee.WaitForAsync("/past", 2, TimeSpan.FromSeconds(4))).Take(2).ToArray();
        var grid = $"future job created {f!["created_at"]}, next_run_at {f!["next_run_at"]}\n"
            + $"past job created {p!["created_at"]}, next_run_at {p!["next_run_at"]}\n"
            + "future grid:\n" + Grid.Describe(futureCalls, future, every) + "\npast grid:\n" + Grid.Describe(pastCalls, past, every);
        Console.WriteLine(grid);

        await Assert.That(string.Join(",", futureCalls.Select(r => Grid.SlotIndex(future, every, r.ArrivedAt)))).IsEqualTo("0,1").Because(grid);
        foreach (var (calls, origin) in new[] { (futureCalls, future), (pastCalls, past) })
            foreach (var call in calls)
            {
                var slot = Grid.Slot(origin, every, Grid.SlotIndex(origin, every, call.ArrivedAt));
                await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(slot - Grid.Early).Because(grid);
                await Assert.That(call.ArrivedAt - slot).IsLessThanOrEqualTo(Grid.Tolerance).Because(grid);
                await Assert.That(JobDocs.Time(JsonNode.Parse(call.Body)!["scheduled_at"])).IsEqualTo(slot);
            }
        await Assert.That(Grid.SlotIndex(past, every, pastCalls[1].ArrivedAt) - Grid.SlotIndex(past, every, pastCalls[0].ArrivedAt))
            .IsEqualTo(1L).Because("a start_at in the past must not make up the slots before creation\n" + grid);
        await Assert.That(pastCalls[0].ArrivedAt).IsGreaterThan(createdAt).Because(grid);
    }

    [Test]
    public async Task A_retryable_answer_is_retried_with_the_same_run_id_and_a_4xx_is_not()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        callee.Script("/flaky", new Reply(503), new Reply(500), Reply.Ok);
        callee.Always("/rude", new Reply(400));
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = ksana.Api(Key);

        var flaky = JobDocs.Every("flaky", callee.Url("/flaky"), "1h", maxRetries: 3);
        flaky["retry_backoff"] = "200ms";
        var flakyId = (await api.CreateJobAsync(flaky))!["id"]?.GetValue<string>()!;
        var rude = JobDocs.Every("rude", callee.Url("/rude"), "1h", maxRetries: 3);
        rude["retry_backoff"] = "200ms";
        var rudeId = (await api.CreateJobAsync(rude))!["id"]?.GetValue<string>()!;

        var (status, body, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{flakyId}/run-now");
        await Assert.That((int)status).IsEqualTo(202);
        var runId = body!["run_id"]?.GetValue<string>()!;
        await api.SendAsync(HttpMethod.Post, $"/jobs/{rudeId}/run-now");

        var calls = await callee.WaitForAsync("/flaky", 3, TimeSpan.FromSeconds(8));
        await Assert.That(calls.Select(c => c.RunId).Distinct().ToArray()).IsEquivalentTo(new[] { runId });
        await Assert.That(string.Join(",", calls.Select(c => c.Header("X-Ksana-Attempt")))).IsEqualTo("1,2,3");
        await Assert.That(string.Join(",", calls.Select(c => JsonNode.Parse(c.Body)!["attempt"]?.GetValue<int>()))).IsEqualTo("1,2,3");
        // Backoff 200 ms then 400 ms, each ±20 %.
        await Assert.That(calls[1].ArrivedAt - calls[0].ArrivedAt).IsGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(155));
        await Assert.That(calls[2].ArrivedAt - calls[1].ArrivedAt).IsGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(315));

        var flakyJob = await api.WaitJobAsync(flakyId, j => j!["last_run"] is JsonObject
            && j!["last_run"]!["status"]?.GetValue<string>() == "succeeded", TimeSpan.FromSeconds(5));
        var run = (await api.RunsAsync(flakyId)).Single();
        await Assert.That(run!["status"]?.GetValue<string>()).IsEqualTo("succeeded").Because(run.ToString());
        await Assert.That(run!["trigger"]?.GetValue<string>()).IsEqualTo("manual");
        await Assert.That(string.Join(",", run!["attempts"]!.AsArray().Select(a => a!["status_code"]?.GetValue<int>())))
            .IsEqualTo("503,500,200").Because(run.ToString());
        await Assert.That(flakyJob!["state"]?.GetValue<string>()).IsEqualTo("scheduled");

        var rudeJob = await api.WaitJobAsync(rudeId, j => j!["last_run"] is JsonObject
            && j!["last_run"]!["status"]?.GetValue<string>() == "failed", TimeSpan.FromSeconds(5));
        await Assert.That(rudeJob!["last_run"]!["status"]?.GetValue<string>()).IsEqualTo("failed").Because(rudeJob.ToString());
        await Task.Delay(700); // longer than the first backoff and its jitter: a retry would have come
        await Assert.That(callee.RequestsTo("/rude").Count).IsEqualTo(1).Because("a 400 is a permanent failure, never retried");
    }
}
