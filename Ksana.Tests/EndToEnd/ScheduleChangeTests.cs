using System.Net;
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
        callee.Always("/busy", Reply.Slow(TimeSpan.FromMilliseconds(1600)));
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = ksana.Api(Key);

        var job = await api.CreateJobAsync(JobDocs.Every("busy", callee.Url("/busy"), "1s"));
        var jobId = job!["id"]?.GetValue<string>()!;
        var createdAt = JobDocs.Time(job!["created_at"]);

        // Slot 1 runs until about +2.6 s, so slot 2 is skipped; slot 3 runs until +4.6 s, so slot 4 is skipped.
        var calls = await callee.WaitForAsync("/busy", 2, TimeSpan.FromSeconds(6));
        while (calls[1].AnsweredAt is null && DateTimeOffset.UtcNow - calls[1].ArrivedAt < TimeSpan.FromSeconds(3)) await Task.Delay(20);
        await Task.Delay(200);
        await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/pause");

        var grid = Grid.Describe(callee.RequestsTo("/busy"), createdAt, Every);
        var runs = await api.RunsAsync(jobId);
        var described = grid + "\n" + string.Join("\n", runs.Select(r => r?.ToString()));
        var byStatus = runs.ToLookup(r => r!["status"]?.GetValue<string>(), r => Grid.SlotIndex(createdAt, Every, JobDocs.Time(r!["scheduled_at"])));
        await Assert.That(string.Join(",", callee.RequestsTo("/busy").Select(r => Grid.SlotIndex(createdAt, Every, r.ArrivedAt)))).IsEqualTo("1,3").Because(described);
        await Assert.That(string.Join(",", byStatus["succeeded"].Order())).IsEqualTo("1,3").Because(described);
        await Assert.That(byStatus["skipped"].Contains(2)).IsTrue().Because(described);
        await Assert.That(byStatus["skipped"].Contains(4)).IsTrue().Because(described);
        foreach (var skipped in runs.Where(r => r!["status"]?.GetValue<string>() == "skipped"))
        {
            await Assert.That(skipped!["trigger"]?.GetValue<string>()).IsEqualTo("schedule");
            await Assert.That(skipped!["attempts"]!.AsArray().Count).IsEqualTo(0).Because(skipped.ToString());
        }
    }

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task Resuming_an_every_job_continues_on_its_grid_from_the_next_slot()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = ksana.Api(Key);

        var job = await api.CreateJobAsync(JobDocs.Every("pause", callee.Url("/pause"), "1s"));
        var jobId = job!["id"]?.GetValue<string>()!;
        var createdAt = JobDocs.Time(job!["created_at"]);
        await callee.WaitForAsync("/pause", 1, TimeSpan.FromSeconds(4));

        var (status, paused, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/pause");
        await Assert.That(status).IsEqualTo((int)HttpStatusCode.OK);
        await Assert.That(paused!["state"]?.GetValue<string>()).IsEqualTo("paused");
        await Assert.That(paused!["enabled"]?.GetValue<bool>()).IsFalse();
        var (_, pausedAgain, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/pause");
        await Assert.That(pausedAgain!["state"]?.GetValue<string>()).IsEqualTo("paused").Because("pause is idempotent");
        var callsWhenPaused = callee.RequestsTo("/pause").Count;

        await Task.Delay(TimeSpan.FromMilliseconds(1700));
        await Assert.That(callee.RequestsTo("/pause").Count).IsEqualTo(callsWhenPaused).Because("a paused job does not fire");

        var resumedAt = DateTimeOffset.UtcNow;
        var (_, resumed, _) = await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/resume");
        await Assert.That(resumed!["state"]?.GetValue<string>()).IsEqualTo("scheduled").Because(resumed.ToString());
        var expectedK = (long)Math.Floor((resumedAt - createdAt) / Every) + 1;
        var next = JobDocs.Time(resumed!["next_run_at"]);
        var nextK = Grid.SlotIndex(createdAt, Every, next);
        await Assert.That(next).IsEqualTo(Grid.Slot(createdAt, Every, nextK)).Because($"next_run_at {next} is off the grid of {createdAt}");
        await Assert.That(nextK).IsGreaterThanOrEqualTo(expectedK).Because(resumed.ToString());
        await Assert.That(nextK).IsLessThanOrEqualTo(expectedK + 1).Because(resumed.ToString());

        var calls = (await callee.WaitForAsync("/pause", callsWhenPaused + 2, TimeSpan.FromSeconds(4))).Skip(callsWhenPaused).Take(2).ToArray();
        var grid = $"resumed {Rfc3339.Format(resumedAt)}\n" + Grid.Describe(callee.RequestsTo("/pause"), createdAt, Every);
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
        using var api = ksana.Api(Key);

        var job = await api.CreateJobAsync(JobDocs.Every("patch", callee.Url("/patch"), "1s"));
        var jobId = job!["id"]?.GetValue<string>()!;
        await callee.WaitForAsync("/patch", 1, TimeSpan.FromSeconds(4));
        await Task.Delay(300); // off the old grid, so old and new slots are told apart

        var patch = new JsonObject { ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1.5s" } };
        var (status, patched, _) = await api.SendAsync(HttpMethod.Patch, $"/jobs/{jobId}", patch.ToJsonString());
        await Assert.That(status).IsEqualTo((int)HttpStatusCode.OK).Because(patched?.ToString() ?? "");
        var before = callee.RequestsTo("/patch").Count;
        var changedAt = JobDocs.Time(patched!["updated_at"]);
        var every = TimeSpan.FromMilliseconds(1500);
        await Assert.That(patched!["schedule"]!["every"]?.GetValue<string>()).IsEqualTo("1.5s");
        await Assert.That(JobDocs.Time(patched!["next_run_at"])).IsEqualTo(changedAt + every).Because(patched.ToString());
        await Assert.That(patched!["created_at"]?.GetValue<string>()).IsEqualTo(job!["created_at"]?.GetValue<string>());

        var all = await callee.WaitForAsync("/patch", before + 2, TimeSpan.FromSeconds(5));
        var grid = $"changed {Rfc3339.Format(changedAt)}\n" + Grid.Describe(all, changedAt, every);
        var after = all.Skip(before).Take(2).ToArray();
        await Assert.That(string.Join(",", after.Select(r => Grid.SlotIndex(changedAt, every, r.ArrivedAt)))).IsEqualTo("1,2").Because(grid);
        foreach (var call in after)
        {
            var slot = Grid.Slot(changedAt, every, Grid.SlotIndex(changedAt, every, call.ArrivedAt));
            await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(slot - Grid.Early).Because(grid);
            await Assert.That(call.ArrivedAt - slot).IsLessThanOrEqualTo(Grid.Tolerance).Because(grid);
            await Assert.That(JobDocs.Time(JsonNode.Parse(call.Body)!["scheduled_at"])).IsEqualTo(slot);
        }
        await api.SendAsync(HttpMethod.Delete, $"/jobs/{jobId}");
    }

    [Test]
    public async Task Deleting_a_job_cancels_its_call_in_flight()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        callee.Always("/long", Reply.Slow(TimeSpan.FromSeconds(8)));
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = ksana.Api(Key);

        var jobId = (await api.CreateJobAsync(JobDocs.Every("long", callee.Url("/long"), "1h", timeout: "30s", maxRetries: 3)))
            !["id"]?.GetValue<string>()!;
        await api.SendAsync(HttpMethod.Post, $"/jobs/{jobId}/run-now");
        var call = (await callee.WaitForAsync("/long", 1, TimeSpan.FromSeconds(5)))[0];

        var (status, _, _) = await api.SendAsync(HttpMethod.Delete, $"/jobs/{jobId}");
        await Assert.That(status).IsEqualTo((int)HttpStatusCode.NoContent);
        var deadline = DateTime.UtcNow.AddSeconds(3);
        while (!call.Aborted && DateTime.UtcNow < deadline) await Task.Delay(20);
        await Assert.That(call.Aborted).IsTrue().Because("the attempt in flight must be cancelled when its job is deleted");
        await Assert.That((await api.SendAsync(HttpMethod.Get, $"/jobs/{jobId}")).Status).IsEqualTo((int)HttpStatusCode.NotFound);
        await Assert.That((await api.SendAsync(HttpMethod.Get, $"/jobs/{jobId}/runs")).Status).IsEqualTo((int)HttpStatusCode.NotFound);
        await Task.Delay(500);
        await Assert.That(callee.RequestsTo("/long").Count).IsEqualTo(1).Because("no retry after delete");
        // And the server still stops promptly: nothing of the deleted job is left to drain.
        await Assert.That(await ksana.StopAsync(TimeSpan.FromSeconds(5))).IsEqualTo(0).Because(ksana.Output);
    }
}
