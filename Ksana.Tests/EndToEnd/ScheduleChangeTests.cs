using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §2 "Timing" and §4 on a live grid: overlapping slots, pause/resume, a schedule PATCH, DELETE mid-call.</summary>
public sealed class ScheduleChangeTests
{
    const string Key = "schedule-key";
    static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task A_slot_that_comes_due_while_the_previous_run_is_in_flight_is_skipped()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        callee.Delay("/busy", TimeSpan.FromMilliseconds(1600));
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = new KsanaClient(ksana, Key);

        var job = await api.CreateJobAsync(JobBodies.Every("busy", callee.Url("/busy"), "1s"));
        var jobId = job.GetProperty("id").GetString()!;
        var createdAt = JobBodies.Time(job.GetProperty("created_at"));

        // Slot 1 runs until about +2.6 s, so slot 2 is skipped; slot 3 runs until +4.6 s, so slot 4 is skipped.
        var calls = await callee.WaitForAsync("/busy", 2, TimeSpan.FromSeconds(6));
        while (calls[1].AnsweredAt is null && DateTimeOffset.UtcNow - calls[1].ArrivedAt < TimeSpan.FromSeconds(3)) await Task.Delay(20);
        await Task.Delay(200);
        await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/pause");

        var grid = Grid.Describe(callee.Requests("/busy"), createdAt, Every);
        var runs = await api.GetRunsAsync(jobId);
        var described = grid + "\n" + string.Join("\n", runs.Select(r => r.ToString()));
        var byStatus = runs.ToLookup(r => r.GetProperty("status").GetString(), r => Grid.SlotIndex(createdAt, Every, JobBodies.Time(r.GetProperty("scheduled_at"))));
        await Assert.That(string.Join(",", callee.Requests("/busy").Select(r => Grid.SlotIndex(createdAt, Every, r.ArrivedAt)))).IsEqualTo("1,3").Because(described);
        await Assert.That(string.Join(",", byStatus["succeeded"].Order())).IsEqualTo("1,3").Because(described);
        await Assert.That(byStatus["skipped"].Contains(2)).IsTrue().Because(described);
        await Assert.That(byStatus["skipped"].Contains(4)).IsTrue().Because(described);
        foreach (var skipped in runs.Where(r => r.GetProperty("status").GetString() == "skipped"))
        {
            await Assert.That(skipped.GetProperty("trigger").GetString()).IsEqualTo("schedule");
            await Assert.That(skipped.GetProperty("attempts").GetArrayLength()).IsEqualTo(0).Because(skipped.ToString());
        }
    }

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task Resuming_an_every_job_continues_on_its_grid_from_the_next_slot()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = new KsanaClient(ksana, Key);

        var job = await api.CreateJobAsync(JobBodies.Every("pause", callee.Url("/pause"), "1s"));
        var jobId = job.GetProperty("id").GetString()!;
        var createdAt = JobBodies.Time(job.GetProperty("created_at"));
        await callee.WaitForAsync("/pause", 1, TimeSpan.FromSeconds(4));

        var (status, paused, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/pause");
        await Assert.That(status).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(paused.GetProperty("state").GetString()).IsEqualTo("paused");
        await Assert.That(paused.GetProperty("enabled").GetBoolean()).IsFalse();
        var (_, pausedAgain, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/pause");
        await Assert.That(pausedAgain.GetProperty("state").GetString()).IsEqualTo("paused").Because("pause is idempotent");
        var callsWhenPaused = callee.Requests("/pause").Length;

        await Task.Delay(TimeSpan.FromMilliseconds(1700));
        await Assert.That(callee.Requests("/pause").Length).IsEqualTo(callsWhenPaused).Because("a paused job does not fire");

        var resumedAt = DateTimeOffset.UtcNow;
        var (_, resumed, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/resume");
        await Assert.That(resumed.GetProperty("state").GetString()).IsEqualTo("scheduled").Because(resumed.ToString());
        var expectedK = (long)Math.Floor((resumedAt - createdAt) / Every) + 1;
        var next = JobBodies.Time(resumed.GetProperty("next_run_at"));
        var nextK = Grid.SlotIndex(createdAt, Every, next);
        await Assert.That(next).IsEqualTo(Grid.Slot(createdAt, Every, nextK)).Because($"next_run_at {next} is off the grid of {createdAt}");
        await Assert.That(nextK).IsGreaterThanOrEqualTo(expectedK).Because(resumed.ToString());
        await Assert.That(nextK).IsLessThanOrEqualTo(expectedK + 1).Because(resumed.ToString());

        var calls = (await callee.WaitForAsync("/pause", callsWhenPaused + 2, TimeSpan.FromSeconds(4))).Skip(callsWhenPaused).Take(2).ToArray();
        var grid = $"resumed {JobBodies.Rfc3339(resumedAt)}\n" + Grid.Describe(callee.Requests("/pause"), createdAt, Every);
        await Assert.That(Grid.SlotIndex(createdAt, Every, calls[0].ArrivedAt)).IsEqualTo(nextK).Because(grid);
        foreach (var call in calls)
        {
            var slot = Grid.Slot(createdAt, Every, Grid.SlotIndex(createdAt, Every, call.ArrivedAt));
            await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(slot - Grid.Early).Because(grid);
            await Assert.That(call.ArrivedAt - slot).IsLessThanOrEqualTo(Grid.Tolerance).Because(grid);
        }
        await api.SendAsync(HttpMethod.Delete, $"/jobs/{jobId}");
    }

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task Patching_the_schedule_restarts_the_grid_from_the_change()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = new KsanaClient(ksana, Key);

        var job = await api.CreateJobAsync(JobBodies.Every("patch", callee.Url("/patch"), "1s"));
        var jobId = job.GetProperty("id").GetString()!;
        await callee.WaitForAsync("/patch", 1, TimeSpan.FromSeconds(4));
        await Task.Delay(300); // off the old grid, so old and new slots are told apart

        var patch = new JsonObject { ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1.5s" } };
        var (status, patched, _) = await api.SendAsync(HttpMethod.Patch, $"/jobs/{jobId}", patch.ToJsonString());
        await Assert.That(status).IsEqualTo(HttpStatusCode.OK).Because(patched.ToString());
        var before = callee.Requests("/patch").Length;
        var changedAt = JobBodies.Time(patched.GetProperty("updated_at"));
        var every = TimeSpan.FromMilliseconds(1500);
        await Assert.That(patched.GetProperty("schedule").GetProperty("every").GetString()).IsEqualTo("1.5s");
        await Assert.That(JobBodies.Time(patched.GetProperty("next_run_at"))).IsEqualTo(changedAt + every).Because(patched.ToString());
        await Assert.That(patched.GetProperty("created_at").GetString()).IsEqualTo(job.GetProperty("created_at").GetString());

        var all = await callee.WaitForAsync("/patch", before + 2, TimeSpan.FromSeconds(5));
        var grid = $"changed {JobBodies.Rfc3339(changedAt)}\n" + Grid.Describe(all, changedAt, every);
        var after = all.Skip(before).Take(2).ToArray();
        await Assert.That(string.Join(",", after.Select(r => Grid.SlotIndex(changedAt, every, r.ArrivedAt)))).IsEqualTo("1,2").Because(grid);
        foreach (var call in after)
        {
            var slot = Grid.Slot(changedAt, every, Grid.SlotIndex(changedAt, every, call.ArrivedAt));
            await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(slot - Grid.Early).Because(grid);
            await Assert.That(call.ArrivedAt - slot).IsLessThanOrEqualTo(Grid.Tolerance).Because(grid);
            await Assert.That(JobBodies.Time(JsonDocument.Parse(call.Body).RootElement.GetProperty("scheduled_at"))).IsEqualTo(slot);
        }
        await api.SendAsync(HttpMethod.Delete, $"/jobs/{jobId}");
    }

    [Test]
    public async Task Deleting_a_job_cancels_its_call_in_flight()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        callee.Delay("/long", TimeSpan.FromSeconds(8));
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = new KsanaClient(ksana, Key);

        var jobId = (await api.CreateJobAsync(JobBodies.Every("long", callee.Url("/long"), "1h", timeout: "30s", maxRetries: 3)))
            .GetProperty("id").GetString()!;
        await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/run-now");
        var call = (await callee.WaitForAsync("/long", 1, TimeSpan.FromSeconds(5)))[0];

        var (status, _, _) = await api.SendAsync(HttpMethod.Delete, $"/jobs/{jobId}");
        await Assert.That(status).IsEqualTo(HttpStatusCode.NoContent);
        var deadline = DateTime.UtcNow.AddSeconds(3);
        while (!call.Aborted && DateTime.UtcNow < deadline) await Task.Delay(20);
        await Assert.That(call.Aborted).IsTrue().Because("the attempt in flight must be cancelled when its job is deleted");
        await Assert.That((await api.SendAsync(HttpMethod.Get, $"/jobs/{jobId}")).Status).IsEqualTo(HttpStatusCode.NotFound);
        await Assert.That((await api.SendAsync(HttpMethod.Get, $"/jobs/{jobId}/runs")).Status).IsEqualTo(HttpStatusCode.NotFound);
        await Task.Delay(500);
        await Assert.That(callee.Requests("/long").Length).IsEqualTo(1).Because("no retry after delete");
        // And the server still stops promptly: nothing of the deleted job is left to drain.
        await Assert.That(await ksana.StopAsync(TimeSpan.FromSeconds(5))).IsEqualTo(0).Because(ksana.Output);
    }
}
