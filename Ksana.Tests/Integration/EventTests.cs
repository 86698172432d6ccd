using System.Text.Json.Nodes;

namespace Ksana.Tests.Integration;

/// <summary>Ksana's own events at EVENTS_URL (SPEC §9): each type, in order per job, and never in the way of runs.</summary>
public class EventTests
{
    static async Task<JsonObject> FinishedRun(KsanaServer ksana, string jobId) =>
        await ksana.WaitForRunAsync(jobId, await ksana.RunNowAsync(jobId));

    [Test]
    public async Task Failed_paused_and_recovered_arrive_in_order_with_the_run()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/job", new Reply(500), new Reply(500), new Reply(200));
        await using var ksana = await KsanaServer.StartAsync(s => s with { EventsUrl = new Uri(callee.Url("/events")) });
        var doc = JobDocs.Calling(callee.Url("/job"));
        doc["pause_after_failures"] = 2;
        doc["key"] = "nightly-report";
        var job = (await ksana.CreateJobAsync(doc))["id"]!.GetValue<string>();
        var first = await FinishedRun(ksana, job);
        var second = await FinishedRun(ksana, job);
        await Answer.Of(ksana.Client.PostAsync($"/jobs/{job}/resume", null));
        var third = await FinishedRun(ksana, job);

        await Assert.That(await Poll.Until(() => callee.RequestsTo("/events").Count >= 4, TimeSpan.FromSeconds(10))).IsTrue()
            .Because(string.Join("\n", callee.RequestsTo("/events").Select(r => r.Body)));
        var events = callee.RequestsTo("/events").Select(r => JsonNode.Parse(r.Body)!.AsObject()).ToArray();
        await Assert.That(events.Select(e => e["type"]!.GetValue<string>()))
            .IsEquivalentTo(new[] { "run.failed", "run.failed", "job.paused", "job.recovered" }, TUnit.Assertions.Enums.CollectionOrdering.Matching);
        await Assert.That(events.Select(e => e["run"]!["run_id"]!.GetValue<string>())).IsEquivalentTo(
            new[] { first, second, second, third }.Select(r => r["run_id"]!.GetValue<string>()), TUnit.Assertions.Enums.CollectionOrdering.Matching);
        await Assert.That(events[2]["job"]!["key"]!.GetValue<string>()).IsEqualTo("nightly-report");
        await Assert.That(events[2]["job"]!["id"]!.GetValue<string>()).IsEqualTo(job);
        await Assert.That(events[0]["run"]!["status"]!.GetValue<string>()).IsEqualTo("failed");
        await Assert.That(events.Select(e => e["id"]!.GetValue<string>()).Distinct().Count()).IsEqualTo(4);
        await Assert.That(events[0]["id"]!.GetValue<string>()).Matches("^[0-9a-f]{32}$");
        var request = callee.RequestsTo("/events")[0];
        await Assert.That(request.Method).IsEqualTo("POST");
        await Assert.That(request.Header("Content-Type")).StartsWith("application/json");
    }

    [Test]
    public async Task A_refused_event_is_sent_again_until_taken_and_others_wait_their_turn()
    {
        await using var callee = await Callee.StartAsync();
        callee.Script("/events", new Reply(503), new Reply(503));
        callee.Always("/job", new Reply(404));
        await using var ksana = await KsanaServer.StartAsync(s => s with
        {
            EventsUrl = new Uri(callee.Url("/events")),
            RetryBackoff = Duration.FromMilliseconds(50),
        });
        var job = (await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/job"))))["id"]!.GetValue<string>();
        var runs = new[] { await FinishedRun(ksana, job), await FinishedRun(ksana, job) };
        await Assert.That(await Poll.Until(() => callee.RequestsTo("/events").Count >= 4, TimeSpan.FromSeconds(10))).IsTrue();
        var bodies = callee.RequestsTo("/events").Select(r => JsonNode.Parse(r.Body)!["run"]!["run_id"]!.GetValue<string>()).ToArray();
        var first = runs[0]["run_id"]!.GetValue<string>();
        // The first event, refused twice, is sent three times before the second is sent at all.
        await Assert.That(bodies).IsEquivalentTo(new[] { first, first, first, runs[1]["run_id"]!.GetValue<string>() }, TUnit.Assertions.Enums.CollectionOrdering.Matching);
    }

    [Test]
    [NotInParallel]
    public async Task A_dead_events_url_does_not_make_scheduled_runs_late()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/events", new Reply(200, Delay: TimeSpan.FromSeconds(30))); // hangs: every delivery times out
        callee.Always("/fails", new Reply(400));
        await using var ksana = await KsanaServer.StartAsync(s => s with
        {
            EventsUrl = new Uri(callee.Url("/events")),
            Workers = 2,
        });
        var failing = JobDocs.Calling(callee.Url("/fails"));
        failing["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1s" };
        var healthy = JobDocs.Calling(callee.Url("/ok"));
        healthy["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1s" };
        for (var i = 0; i < 5; i++) await ksana.CreateJobAsync(failing);
        var id = (await ksana.CreateJobAsync(healthy))["id"]!.GetValue<string>();
        await Task.Delay(TimeSpan.FromSeconds(5));

        var runs = (await ksana.RunsAsync(id)).Where(r => r!["status"]!.GetValue<string>() == "succeeded").ToArray();
        await Assert.That(runs.Length).IsGreaterThanOrEqualTo(3);
        foreach (var run in runs)
        {
            var late = DateTimeOffset.Parse(run!["attempts"]![0]!["started_at"]!.GetValue<string>()) - DateTimeOffset.Parse(run["scheduled_at"]!.GetValue<string>());
            await Assert.That(late).IsLessThan(TimeSpan.FromMilliseconds(250));
        }
        await Assert.That(callee.RequestsTo("/events").Count).IsGreaterThan(0);
    }
}
