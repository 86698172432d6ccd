using System.Text.Json.Nodes;

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
            using var api = ksana.Api(Key);
            var job = await api.CreateJobAsync(JobDocs.Every("no-catch-up", callee.Url("/tick"), "1s"));
            jobId = job!["id"]?.GetValue<string>()!;
            createdAt = JobDocs.Time(job!["created_at"]);
            await callee.WaitForAsync("/tick", 2, TimeSpan.FromSeconds(6));
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
            stoppedAt = DateTimeOffset.UtcNow;
        }
        var beforeRestart = callee.RequestsTo("/tick").Count;

        await Task.Delay(TimeSpan.FromSeconds(3));
        await Assert.That(callee.RequestsTo("/tick").Count).IsEqualTo(beforeRestart).Because("nothing fires while the server is down");

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            var restartedAt = ksana.LaunchedAt;
            var all = await callee.WaitForAsync("/tick", beforeRestart + 3, TimeSpan.FromSeconds(6));
            var after = all.Skip(beforeRestart).Take(3).ToArray();
            var grid = $"created {Rfc3339.Format(createdAt)}, stopped {Rfc3339.Format(stoppedAt)}, restarted {Rfc3339.Format(restartedAt)}\n"
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
            await Assert.That(all.Select(r => r.RunId).Distinct().Count()).IsEqualTo(all.Count).Because(grid);
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
        }
    }

    [Test]
    public async Task A_once_job_whose_time_passed_while_down_is_missed()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        DateTimeOffset runAt;
        string jobId;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            // Chosen once the server is up, with room for a create and a stop on a busy machine.
            runAt = JobDocs.WholeSecondAfter(TimeSpan.FromSeconds(3));
            using var api = ksana.Api(Key);
            jobId = (await api.CreateJobAsync(JobDocs.Once("missed", callee.Url("/missed"), runAt)))!["id"]?.GetValue<string>()!;
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0).Because(ksana.Output);
        }
        await Assert.That(DateTimeOffset.UtcNow).IsLessThan(runAt).Because("the server must be down before run_at for this test to mean anything");

        var wait = runAt - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1);
        await Task.Delay(wait);

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api(Key);
            var job = await api.GetJobAsync(jobId);
            await Assert.That(job!["state"]?.GetValue<string>()).IsEqualTo("missed").Because(job.ToString());
            var runs = await api.RunsAsync(jobId);
            await Assert.That(runs.Count(r => r!["status"]?.GetValue<string>() == "missed")).IsEqualTo(1)
                .Because(string.Join("\n", runs.Select(r => r?.ToString())));
            await Assert.That(runs.Count).IsEqualTo(1).Because(string.Join("\n", runs.Select(r => r?.ToString())));
            await Assert.That(JobDocs.Time(runs[0]!["scheduled_at"])).IsEqualTo(runAt);

            await Task.Delay(1000);
            await Assert.That(callee.RequestsTo("/missed").Count).IsEqualTo(0).Because("a missed once job does not run");
            job = await api.GetJobAsync(jobId);
            await Assert.That(job!["state"]?.GetValue<string>()).IsEqualTo("missed").Because(job.ToString());
        }
    }

    [Test]
    public async Task Sigterm_waits_for_a_callback_in_flight_and_records_it()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        callee.Always("/slow", Reply.Slow(TimeSpan.FromMilliseconds(1500)));
        DateTimeOffset runAt;
        string jobId;
        Recorded call;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            runAt = JobDocs.WholeSecondAfter(TimeSpan.FromSeconds(1)); // once the server is up: a slow start must not pass it
            using var api = ksana.Api(Key);
            jobId = (await api.CreateJobAsync(JobDocs.Once("drain", callee.Url("/slow"), runAt, timeout: "10s")))!["id"]?.GetValue<string>()!;
            call = (await callee.WaitForAsync("/slow", 1, runAt - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(4)))[0];

            ksana.Terminate();
            var code = await ksana.WaitExitAsync(TimeSpan.FromSeconds(15));
            await Assert.That(code).IsEqualTo(0).Because(ksana.Output);
            await Assert.That(call.Aborted).IsFalse().Because("ksana dropped the callback in flight instead of waiting for it");
            await Assert.That(call.AnsweredAt).IsNotNull();
            await Assert.That(ksana.ExitTime).IsGreaterThanOrEqualTo(call.AnsweredAt!.Value - TimeSpan.FromMilliseconds(5))
                .Because($"exited {Rfc3339.Format(ksana.ExitTime)}, callee answered {Rfc3339.Format(call.AnsweredAt.Value)}");
        }

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api(Key);
            var runs = await api.RunsAsync(jobId);
            var described = string.Join("\n", runs.Select(r => r?.ToString()));
            await Assert.That(runs.Count).IsEqualTo(1).Because(described);
            await Assert.That(runs[0]!["run_id"]?.GetValue<string>()).IsEqualTo(call.RunId);
            await Assert.That(runs[0]!["status"]?.GetValue<string>()).IsEqualTo("succeeded").Because(described);
            await Assert.That(runs[0]!["attempts"]![0]!["status_code"]?.GetValue<int>()).IsEqualTo(200).Because(described);
            var job = await api.GetJobAsync(jobId);
            await Assert.That(job!["state"]?.GetValue<string>()).IsEqualTo("completed").Because(job.ToString());
            await Task.Delay(500);
            await Assert.That(callee.RequestsTo("/slow").Count).IsEqualTo(1).Because("the drained run must not be repeated");
        }
    }

    [Test]
    public async Task Kill_9_during_a_callback_leaves_that_run_failed_as_interrupted()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        callee.Always("/hang", Reply.Slow(TimeSpan.FromSeconds(8)));
        string jobId, runId;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api(Key);
            jobId = (await api.CreateJobAsync(JobDocs.Every("crash", callee.Url("/hang"), "1h", timeout: "30s")))!["id"]?.GetValue<string>()!;
            var (status, body, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/run-now");
            await Assert.That((int)status).IsEqualTo(202).Because(body?.ToString() ?? "");
            runId = body!["run_id"]?.GetValue<string>()!;
            var call = (await callee.WaitForAsync("/hang", 1, TimeSpan.FromSeconds(5)))[0];
            await Assert.That(call.RunId).IsEqualTo(runId);
            // No pause here: the 202 of run-now was only sent once the run was durable (SPEC §4).
            ksana.Kill9();
            await ksana.WaitExitAsync(TimeSpan.FromSeconds(5));
        }

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api(Key);
            var runs = await api.RunsAsync(jobId);
            var described = string.Join("\n", runs.Select(r => r?.ToString()));
            var run = runs.FirstOrDefault(r => r!["run_id"]?.GetValue<string>() == runId);
            await Assert.That(run).IsNotNull().Because($"run {runId} is gone:\n{described}");
            await Assert.That(run!["status"]?.GetValue<string>()).IsEqualTo("failed").Because(described);
            await Assert.That(run!["trigger"]?.GetValue<string>()).IsEqualTo("manual").Because(described);
            var errors = run!["error"].ToString() + " "
                + string.Join(" ", run!["attempts"]!.AsArray().Select(a => a!["error"]?.ToString()));
            await Assert.That(errors).Contains("interrupted", StringComparison.OrdinalIgnoreCase).Because(described);
            await Assert.That(run!["finished_at"]?.GetValueKind()).IsEqualTo(System.Text.Json.JsonValueKind.String).Because(described);
            var job = await api.GetJobAsync(jobId);
            await Assert.That(job!["state"]?.GetValue<string>()).IsEqualTo("scheduled").Because(job.ToString());
            await Assert.That(job!["last_run"]!["status"]?.GetValue<string>()).IsEqualTo("failed").Because(job.ToString());
        }
    }
}
