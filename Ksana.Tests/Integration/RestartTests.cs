using System.Globalization;
using System.Text.Json.Nodes;
using Ksana.Storage;

namespace Ksana.Tests.Integration;

/// <summary>
/// What survives a stop and a start on the same data directory (SPEC §2 "Restart", §6), in process:
/// the server is stopped the way SIGTERM stops it and a new one is built on the same directory.
/// </summary>
public sealed class RestartTests
{
    static string Id(JsonObject job) => job["id"]!.GetValue<string>();


    static JsonObject WithoutClock(JsonObject job)
    {
        var copy = job.DeepClone().AsObject();
        copy.Remove("next_run_at");
        return copy;
    }

    [Test]
    public async Task Jobs_changes_and_runs_survive_a_restart()
    {
        await using var callee = await Callee.StartAsync();
        await using var first = await KsanaServer.StartAsync();
        var kept = await first.CreateJobAsync(JobDocs.Calling(callee.Url("/kept")));
        var patched = await first.CreateJobAsync(JobDocs.Hourly("before"));
        var deleted = await first.CreateJobAsync(JobDocs.Hourly("deleted"));
        var pausedJob = await first.CreateJobAsync(JobDocs.Hourly("paused"));
        using (await first.PatchAsync($"/jobs/{Id(patched)}", """{"name": "after", "http": {"headers": {"X-A": "1"}}}""")) { }
        using (await first.Client.DeleteAsync($"/jobs/{Id(deleted)}")) { }
        using (await first.PostEmptyAsync($"/jobs/{Id(pausedJob)}/pause")) { }
        var runId = await first.RunNowAsync(Id(kept));
        await first.WaitForRunAsync(Id(kept), runId);
        var before = (await first.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Select(j => WithoutClock(j!.AsObject()).ToJsonString()).ToList();
        var runsBefore = (await first.RunsAsync(Id(kept))).ToJsonString();

        await using var second = await first.RestartAsync();

        var after = (await second.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Select(j => WithoutClock(j!.AsObject()).ToJsonString()).ToList();
        await Assert.That(string.Join("\n", after)).IsEqualTo(string.Join("\n", before));
        await Assert.That(after.Count).IsEqualTo(3);
        await Assert.That((await second.RunsAsync(Id(kept))).ToJsonString()).IsEqualTo(runsBefore);
        await Assert.That((await second.GetJsonAsync($"/jobs/{Id(patched)}"))["name"]!.GetValue<string>()).IsEqualTo("after");
        await Assert.That((await second.GetJsonAsync($"/jobs/{Id(pausedJob)}"))["state"]!.GetValue<string>()).IsEqualTo("paused");
        await Assert.That((await Answer.Of(second.Client.GetAsync($"/jobs/{Id(deleted)}"))).Status).IsEqualTo(404);
    }

    [Test]
    public async Task A_second_instance_on_the_same_data_directory_refuses_to_start()
    {
        await using var ksana = await KsanaServer.StartAsync();
        StartupException? refused = null;
        try
        {
            await using var second = ksana.BuildSecondInstance();
        }
        catch (StartupException e)
        {
            refused = e;
        }
        await Assert.That(refused).IsNotNull();
        await Assert.That(refused!.Message).Contains("in use");
        // The first server is unharmed.
        await Assert.That((await Answer.Of(ksana.Client.GetAsync("/jobs"))).Status).IsEqualTo(200);
    }

    [Test]
    public async Task A_once_job_whose_run_at_passes_while_down_is_missed_and_does_not_run()
    {
        await using var callee = await Callee.StartAsync();
        var clock = FakeClock.AtNow();
        await using var first = await KsanaServer.StartAsync(time: clock);
        var doc = JobDocs.Calling(callee.Url("/missed"));
        doc["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = Rfc3339.Format(clock.GetUtcNow().AddMilliseconds(1500)) };
        var job = await first.CreateJobAsync(doc);
        await first.StopAsync();

        clock.Advance(TimeSpan.FromMilliseconds(1800)); // run_at passes while Ksana is down
        await using var second = await first.RestartAsync();

        var view = await second.GetJsonAsync($"/jobs/{Id(job)}");
        await Assert.That(view["state"]!.GetValue<string>()).IsEqualTo("missed");
        var runs = await second.RunsAsync(Id(job));
        await Assert.That(runs.Count).IsEqualTo(1);
        await Assert.That(runs[0]!["status"]!.GetValue<string>()).IsEqualTo("missed");
        await Assert.That(view["last_run"]!["status"]!.GetValue<string>()).IsEqualTo("missed");
        var fired = await clock.AdvanceUntilAsync(() => callee.Requests.Count > 0, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2));
        await Assert.That(fired).IsFalse();
    }

    [Test]
    public async Task An_every_job_rolls_forward_after_a_restart_without_making_up_missed_slots()
    {
        await using var callee = await Callee.StartAsync();
        await using var first = await KsanaServer.StartAsync();
        var doc = JobDocs.Calling(callee.Url("/grid"));
        doc["schedule"]!["every"] = "1s";
        var job = await first.CreateJobAsync(doc);
        var created = DateTimeOffset.Parse(job["created_at"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        await first.StopAsync();

        await Task.Delay(2500);
        var restartAt = DateTimeOffset.UtcNow;
        await using var second = await first.RestartAsync();
        await Task.Delay(1400);

        var requests = callee.RequestsTo("/grid").Where(r => r.ArrivedAt >= restartAt).ToList();
        await Assert.That(requests.Count).IsBetween(1, 2);
        for (var i = 1; i < requests.Count; i++)
            await Assert.That(requests[i].Since(requests[i - 1]).TotalMilliseconds).IsGreaterThan(600);
        foreach (var run in await second.RunsAsync(Id(job)))
        {
            var scheduled = DateTimeOffset.Parse(run!["scheduled_at"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            if (scheduled < restartAt.AddSeconds(-1.5)) continue; // a run from before the stop
            await Assert.That(scheduled >= restartAt.AddMilliseconds(-5)).IsTrue().Because($"no catch-up slot: {scheduled:O} < {restartAt:O}");
            await Assert.That((scheduled - created).Ticks % TimeSpan.TicksPerSecond).IsEqualTo(0L);
        }
    }

    [Test]
    public async Task Stopping_lets_an_attempt_in_flight_finish_and_records_it()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/drain", new Reply(200, TimeSpan.FromMilliseconds(700)));
        await using var first = await KsanaServer.StartAsync();
        var job = await first.CreateJobAsync(JobDocs.Calling(callee.Url("/drain"), timeout: "5s"));
        var runId = await first.RunNowAsync(Id(job));
        await Assert.That(await Poll.Until(() => callee.Requests.Count == 1, TimeSpan.FromSeconds(5))).IsTrue();

        await first.StopAsync();
        await using var second = await first.RestartAsync();

        var run = (await second.RunsAsync(Id(job))).Single(r => r!["run_id"]!.GetValue<string>() == runId)!;
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded").Because(run.ToJsonString());
        await Assert.That(run["attempts"]![0]!["status_code"]!.GetValue<int>()).IsEqualTo(200);
    }
}
