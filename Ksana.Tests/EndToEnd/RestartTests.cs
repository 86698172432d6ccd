using System.Text.Json;

namespace Ksana.Tests.EndToEnd;

/// <summary>
/// SPEC §1 and §2 across a stop: no catch-up for every jobs, missed once jobs, SIGTERM draining a
/// callback in flight, and a kill -9 during one.
/// </summary>
public sealed class RestartTests
{
    const string Key = "restart-key";

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task After_a_restart_an_every_job_goes_on_on_its_grid_without_catching_up()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        var every = TimeSpan.FromSeconds(1);
        string jobId;
        DateTimeOffset createdAt, stoppedAt;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = new KsanaClient(ksana, Key);
            var job = await api.CreateJobAsync(JobBodies.Every("no-catch-up", callee.Url("/tick"), "1s"));
            jobId = job.GetProperty("id").GetString()!;
            createdAt = JobBodies.Time(job.GetProperty("created_at"));
            await callee.WaitForAsync("/tick", 2, TimeSpan.FromSeconds(6));
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
            stoppedAt = DateTimeOffset.UtcNow;
        }
        var beforeRestart = callee.Requests("/tick").Length;

        await Task.Delay(TimeSpan.FromSeconds(3));
        await Assert.That(callee.Requests("/tick").Length).IsEqualTo(beforeRestart).Because("nothing fires while the server is down");

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            var restartedAt = ksana.LaunchedAt;
            var all = await callee.WaitForAsync("/tick", beforeRestart + 3, TimeSpan.FromSeconds(6));
            var after = all.Skip(beforeRestart).Take(3).ToArray();
            var grid = $"created {JobBodies.Rfc3339(createdAt)}, stopped {JobBodies.Rfc3339(stoppedAt)}, restarted {JobBodies.Rfc3339(restartedAt)}\n"
                + Grid.Describe(all, createdAt, every);
            Console.WriteLine(grid);

            var slots = after.Select(r => Grid.SlotIndex(createdAt, every, r.ArrivedAt)).ToArray();
            // The first slot strictly after the restart (or the one after it, if start-up straddled it).
            var firstDue = (long)Math.Floor((restartedAt - createdAt) / every) + 1;
            await Assert.That(slots[0]).IsGreaterThanOrEqualTo(firstDue).Because("a slot missed while down was made up\n" + grid);
            await Assert.That(slots[0]).IsLessThanOrEqualTo(firstDue + 1).Because(grid);
            await Assert.That(string.Join(",", slots)).IsEqualTo(string.Join(",", new[] { slots[0], slots[0] + 1, slots[0] + 2 })).Because(grid);
            foreach (var call in after)
            {
                var slot = Grid.Slot(createdAt, every, Grid.SlotIndex(createdAt, every, call.ArrivedAt));
                await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(slot - Grid.Early).Because(grid);
                await Assert.That(call.ArrivedAt - slot).IsLessThanOrEqualTo(Grid.Tolerance).Because(grid);
                await Assert.That(call.JobId).IsEqualTo(jobId);
            }
            await Assert.That(all.Select(r => r.RunId).Distinct().Count()).IsEqualTo(all.Length).Because(grid);
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
        }
    }

    [Test]
    public async Task A_once_job_whose_time_passed_while_down_is_missed()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        var runAt = JobBodies.WholeSecondAfter(TimeSpan.FromSeconds(1.5));
        string jobId;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = new KsanaClient(ksana, Key);
            jobId = (await api.CreateJobAsync(JobBodies.Once("missed", callee.Url("/missed"), runAt))).GetProperty("id").GetString()!;
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
        }
        await Assert.That(DateTimeOffset.UtcNow).IsLessThan(runAt).Because("the server must be down before run_at for this test to mean anything");

        var wait = runAt - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1);
        await Task.Delay(wait);

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = new KsanaClient(ksana, Key);
            var job = await api.GetJobAsync(jobId);
            await Assert.That(job.GetProperty("state").GetString()).IsEqualTo("missed").Because(job.ToString());
            var runs = await api.GetRunsAsync(jobId);
            await Assert.That(runs.Count(r => r.GetProperty("status").GetString() == "missed")).IsEqualTo(1)
                .Because(string.Join("\n", runs.Select(r => r.ToString())));
            await Assert.That(runs.Length).IsEqualTo(1).Because(string.Join("\n", runs.Select(r => r.ToString())));
            await Assert.That(JobBodies.Time(runs[0].GetProperty("scheduled_at"))).IsEqualTo(runAt);

            await Task.Delay(1000);
            await Assert.That(callee.Requests("/missed").Length).IsEqualTo(0).Because("a missed once job does not run");
            job = await api.GetJobAsync(jobId);
            await Assert.That(job.GetProperty("state").GetString()).IsEqualTo("missed").Because(job.ToString());
        }
    }

    [Test]
    public async Task Sigterm_waits_for_a_callback_in_flight_and_records_it()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        callee.Delay("/slow", TimeSpan.FromMilliseconds(1500));
        var runAt = JobBodies.WholeSecondAfter(TimeSpan.FromSeconds(1));
        string jobId;
        CalleeRequest call;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = new KsanaClient(ksana, Key);
            jobId = (await api.CreateJobAsync(JobBodies.Once("drain", callee.Url("/slow"), runAt, timeout: "10s"))).GetProperty("id").GetString()!;
            call = (await callee.WaitForAsync("/slow", 1, runAt - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(4)))[0];

            ksana.Terminate();
            var code = await ksana.WaitExitAsync(TimeSpan.FromSeconds(15));
            await Assert.That(code).IsEqualTo(0).Because(ksana.Output);
            await Assert.That(call.Aborted).IsFalse().Because("ksana dropped the callback in flight instead of waiting for it");
            await Assert.That(call.AnsweredAt).IsNotNull();
            await Assert.That(ksana.ExitTime).IsGreaterThanOrEqualTo(call.AnsweredAt!.Value - TimeSpan.FromMilliseconds(5))
                .Because($"exited {JobBodies.Rfc3339(ksana.ExitTime)}, callee answered {JobBodies.Rfc3339(call.AnsweredAt.Value)}");
        }

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = new KsanaClient(ksana, Key);
            var runs = await api.GetRunsAsync(jobId);
            var described = string.Join("\n", runs.Select(r => r.ToString()));
            await Assert.That(runs.Length).IsEqualTo(1).Because(described);
            await Assert.That(runs[0].GetProperty("run_id").GetString()).IsEqualTo(call.RunId);
            await Assert.That(runs[0].GetProperty("status").GetString()).IsEqualTo("succeeded").Because(described);
            await Assert.That(runs[0].GetProperty("attempts")[0].GetProperty("status_code").GetInt32()).IsEqualTo(200).Because(described);
            var job = await api.GetJobAsync(jobId);
            await Assert.That(job.GetProperty("state").GetString()).IsEqualTo("completed").Because(job.ToString());
            await Task.Delay(500);
            await Assert.That(callee.Requests("/slow").Length).IsEqualTo(1).Because("the drained run must not be repeated");
        }
    }

    [Test]
    public async Task Kill_9_during_a_callback_leaves_that_run_failed_as_interrupted()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        callee.Delay("/hang", TimeSpan.FromSeconds(8));
        string jobId, runId;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = new KsanaClient(ksana, Key);
            jobId = (await api.CreateJobAsync(JobBodies.Every("crash", callee.Url("/hang"), "1h", timeout: "30s"))).GetProperty("id").GetString()!;
            var (status, body, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/run-now");
            await Assert.That((int)status).IsEqualTo(202).Because(body.ToString());
            runId = body.GetProperty("run_id").GetString()!;
            var call = (await callee.WaitForAsync("/hang", 1, TimeSpan.FromSeconds(5)))[0];
            await Assert.That(call.RunId).IsEqualTo(runId);
            // No pause here: the 202 of run-now was only sent once the run was durable (SPEC §4).
            ksana.Kill9();
            await ksana.WaitExitAsync(TimeSpan.FromSeconds(5));
        }

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = new KsanaClient(ksana, Key);
            var runs = await api.GetRunsAsync(jobId);
            var described = string.Join("\n", runs.Select(r => r.ToString()));
            var run = runs.FirstOrDefault(r => r.GetProperty("run_id").GetString() == runId);
            await Assert.That(run.ValueKind).IsEqualTo(JsonValueKind.Object).Because($"run {runId} is gone:\n{described}");
            await Assert.That(run.GetProperty("status").GetString()).IsEqualTo("failed").Because(described);
            await Assert.That(run.GetProperty("trigger").GetString()).IsEqualTo("manual").Because(described);
            var errors = run.GetProperty("error").ToString() + " "
                + string.Join(" ", run.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("error").ToString()));
            await Assert.That(errors).Contains("interrupted", StringComparison.OrdinalIgnoreCase).Because(described);
            await Assert.That(run.GetProperty("finished_at").ValueKind).IsEqualTo(JsonValueKind.String).Because(described);
            var job = await api.GetJobAsync(jobId);
            await Assert.That(job.GetProperty("state").GetString()).IsEqualTo("scheduled").Because(job.ToString());
            await Assert.That(job.GetProperty("last_run").GetProperty("status").GetString()).IsEqualTo("failed").Because(job.ToString());
        }
    }
}
