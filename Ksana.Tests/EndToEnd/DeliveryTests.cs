using System.Text.Json;
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
        using var api = new KsanaClient(ksana, Key);

        var job = await api.CreateJobAsync(JobBodies.Every("grid", callee.Url("/grid"), "1s"));
        var jobId = job.GetProperty("id").GetString()!;
        var createdAt = JobBodies.Time(job.GetProperty("created_at"));
        var every = TimeSpan.FromSeconds(1);
        await Assert.That(JobBodies.Time(job.GetProperty("next_run_at"))).IsEqualTo(createdAt + every);

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
            var body = JsonDocument.Parse(call.Body).RootElement;
            await Assert.That(body.GetProperty("job_id").GetString()).IsEqualTo(jobId);
            await Assert.That(body.GetProperty("run_id").GetString()).IsEqualTo(call.RunId);
            await Assert.That(JobBodies.Time(body.GetProperty("scheduled_at"))).IsEqualTo(slot).Because(call.Body);
            await Assert.That(JobBodies.Time(body.GetProperty("triggered_at"))).IsGreaterThanOrEqualTo(slot).Because(call.Body);
            await Assert.That(body.GetProperty("attempt").GetInt32()).IsEqualTo(1);
        }
        await Assert.That(calls.Select(c => c.RunId).Distinct().Count()).IsEqualTo(calls.Length);
        // Nothing beyond one call per slot, up to the moment the job was deleted.
        var all = callee.Requests("/grid");
        await Assert.That(all.Select(r => Grid.SlotIndex(createdAt, every, r.ArrivedAt)).Distinct().Count()).IsEqualTo(all.Length)
            .Because(Grid.Describe(all, createdAt, every));
    }

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task A_once_job_fires_once_at_run_at_and_completes()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = new KsanaClient(ksana, Key);

        callee.Delay("/once", TimeSpan.FromMilliseconds(800));
        var runAt = JobBodies.WholeSecondAfter(TimeSpan.FromSeconds(1.5));
        var job = await api.CreateJobAsync(JobBodies.Once("once", callee.Url("/once"), runAt));
        var jobId = job.GetProperty("id").GetString()!;
        await Assert.That(job.GetProperty("state").GetString()).IsEqualTo("scheduled");
        await Assert.That(JobBodies.Time(job.GetProperty("next_run_at"))).IsEqualTo(runAt);

        var call = (await callee.WaitForAsync("/once", 1, runAt - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(3)))[0];
        var timing = $"run_at {JobBodies.Rfc3339(runAt)}, arrived {JobBodies.Rfc3339(call.ArrivedAt)}";
        Console.WriteLine(timing);
        await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(runAt - Grid.Early).Because(timing);
        await Assert.That(call.ArrivedAt - runAt).IsLessThanOrEqualTo(Grid.Tolerance).Because(timing);
        await Assert.That(JobBodies.Time(JsonDocument.Parse(call.Body).RootElement.GetProperty("scheduled_at"))).IsEqualTo(runAt);

        // While the callee still holds the call, the run has not ended, so the job is not yet
        // "completed" (SPEC §2: a once job whose run ended).
        var during = await api.GetJobAsync(jobId);
        if (call.AnsweredAt is null)
            await Assert.That(during.GetProperty("state").GetString()).IsNotEqualTo("completed")
                .Because($"the callee has not answered yet, but GET /jobs/{{id}} says: {during}");

        var done = await api.WaitJobAsync(jobId, j => j.GetProperty("state").GetString() == "completed", TimeSpan.FromSeconds(5));
        await Assert.That(done.GetProperty("state").GetString()).IsEqualTo("completed").Because(done.ToString());
        await Assert.That(done.GetProperty("last_run").GetProperty("status").GetString()).IsEqualTo("succeeded").Because(done.ToString());
        await Assert.That(done.GetProperty("last_run").GetProperty("run_id").GetString()).IsEqualTo(call.RunId);
        await Assert.That(done.GetProperty("next_run_at").ValueKind).IsEqualTo(JsonValueKind.Null).Because(done.ToString());

        var runs = await api.GetRunsAsync(jobId);
        await Assert.That(runs.Length).IsEqualTo(1);
        await Assert.That(runs[0].GetProperty("trigger").GetString()).IsEqualTo("schedule");
        await Assert.That(JobBodies.Time(runs[0].GetProperty("scheduled_at"))).IsEqualTo(runAt);
        await Assert.That(runs[0].GetProperty("attempts")[0].GetProperty("status_code").GetInt32()).IsEqualTo(200);

        await Task.Delay(1200);
        await Assert.That(callee.Requests("/once").Length).IsEqualTo(1).Because("a once job fires once");
    }

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task An_every_job_with_start_at_fires_on_the_grid_of_start_at()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = new KsanaClient(ksana, Key);

        // One grid starting in the future (its first slot is start_at itself), one in the past.
        var every = TimeSpan.FromSeconds(1);
        var future = JobBodies.WholeSecondAfter(TimeSpan.FromSeconds(1));
        var past = future.AddSeconds(-3600).AddMilliseconds(500);
        var futureJob = JobBodies.Every("start-future", callee.Url("/future"), "1s");
        futureJob["schedule"]!["start_at"] = JobBodies.Rfc3339(future);
        var pastJob = JobBodies.Every("start-past", callee.Url("/past"), "1s");
        pastJob["schedule"]!["start_at"] = JobBodies.Rfc3339(past);
        var f = await api.CreateJobAsync(futureJob);
        var p = await api.CreateJobAsync(pastJob);
        await Assert.That(JobBodies.Time(f.GetProperty("next_run_at"))).IsEqualTo(future).Because(f.ToString());
        var createdAt = JobBodies.Time(p.GetProperty("created_at"));
        await Assert.That(JobBodies.Time(p.GetProperty("next_run_at")))
            .IsEqualTo(Grid.Slot(past, every, (long)Math.Floor((createdAt - past) / every) + 1)).Because(p.ToString());

        var futureCalls = (await callee.WaitForAsync("/future", 2, future - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(3))).Take(2).ToArray();
        var pastCalls = (await callee.WaitForAsync("/past", 2, TimeSpan.FromSeconds(4))).Take(2).ToArray();
        var grid = $"future job created {f.GetProperty("created_at")}, next_run_at {f.GetProperty("next_run_at")}\n"
            + $"past job created {p.GetProperty("created_at")}, next_run_at {p.GetProperty("next_run_at")}\n"
            + "future grid:\n" + Grid.Describe(futureCalls, future, every) + "\npast grid:\n" + Grid.Describe(pastCalls, past, every);
        Console.WriteLine(grid);

        await Assert.That(string.Join(",", futureCalls.Select(r => Grid.SlotIndex(future, every, r.ArrivedAt)))).IsEqualTo("0,1").Because(grid);
        foreach (var (calls, origin) in new[] { (futureCalls, future), (pastCalls, past) })
            foreach (var call in calls)
            {
                var slot = Grid.Slot(origin, every, Grid.SlotIndex(origin, every, call.ArrivedAt));
                await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(slot - Grid.Early).Because(grid);
                await Assert.That(call.ArrivedAt - slot).IsLessThanOrEqualTo(Grid.Tolerance).Because(grid);
                await Assert.That(JobBodies.Time(JsonDocument.Parse(call.Body).RootElement.GetProperty("scheduled_at"))).IsEqualTo(slot);
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
        callee.Script("/flaky", 503, 500, 200);
        callee.Status("/rude", 400);
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = new KsanaClient(ksana, Key);

        var flaky = JobBodies.Every("flaky", callee.Url("/flaky"), "1h", maxRetries: 3);
        flaky["retry_backoff"] = "200ms";
        var flakyId = (await api.CreateJobAsync(flaky)).GetProperty("id").GetString()!;
        var rude = JobBodies.Every("rude", callee.Url("/rude"), "1h", maxRetries: 3);
        rude["retry_backoff"] = "200ms";
        var rudeId = (await api.CreateJobAsync(rude)).GetProperty("id").GetString()!;

        var (status, body, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{flakyId}/run-now");
        await Assert.That((int)status).IsEqualTo(202);
        var runId = body.GetProperty("run_id").GetString()!;
        await api.SendAsync(HttpMethod.Post, $"/jobs/{rudeId}/run-now");

        var calls = await callee.WaitForAsync("/flaky", 3, TimeSpan.FromSeconds(8));
        await Assert.That(calls.Select(c => c.RunId).Distinct().ToArray()).IsEquivalentTo(new[] { runId });
        await Assert.That(string.Join(",", calls.Select(c => c.Header("X-Ksana-Attempt")))).IsEqualTo("1,2,3");
        await Assert.That(string.Join(",", calls.Select(c => JsonDocument.Parse(c.Body).RootElement.GetProperty("attempt").GetInt32()))).IsEqualTo("1,2,3");
        // Backoff 200 ms then 400 ms, each ±20 %.
        await Assert.That(calls[1].ArrivedAt - calls[0].ArrivedAt).IsGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(155));
        await Assert.That(calls[2].ArrivedAt - calls[1].ArrivedAt).IsGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(315));

        var flakyJob = await api.WaitJobAsync(flakyId, j => j.GetProperty("last_run").ValueKind == JsonValueKind.Object
            && j.GetProperty("last_run").GetProperty("status").GetString() == "succeeded", TimeSpan.FromSeconds(5));
        var run = (await api.GetRunsAsync(flakyId)).Single();
        await Assert.That(run.GetProperty("status").GetString()).IsEqualTo("succeeded").Because(run.ToString());
        await Assert.That(run.GetProperty("trigger").GetString()).IsEqualTo("manual");
        await Assert.That(string.Join(",", run.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("status_code").GetInt32())))
            .IsEqualTo("503,500,200").Because(run.ToString());
        await Assert.That(flakyJob.GetProperty("state").GetString()).IsEqualTo("scheduled");

        var rudeJob = await api.WaitJobAsync(rudeId, j => j.GetProperty("last_run").ValueKind == JsonValueKind.Object
            && j.GetProperty("last_run").GetProperty("status").GetString() == "failed", TimeSpan.FromSeconds(5));
        await Assert.That(rudeJob.GetProperty("last_run").GetProperty("status").GetString()).IsEqualTo("failed").Because(rudeJob.ToString());
        await Task.Delay(700); // longer than the first backoff and its jitter: a retry would have come
        await Assert.That(callee.Requests("/rude").Length).IsEqualTo(1).Because("a 400 is a permanent failure, never retried");
    }
}
