using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §9: an event whose run is on disk is delivered after a kill -9.</summary>
public sealed class EventCrashTests
{
    [Test]
    public async Task An_event_not_yet_delivered_at_a_kill_9_is_delivered_after_the_restart()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys("k");
        await using var callee = await Callee.StartAsync();
        callee.Always("/events", new Reply(503)); // the endpoint is down: the event stays in the outbox
        callee.Always("/job", new Reply(404));
        var env = new Dictionary<string, string> { ["EVENTS_URL"] = callee.Url("/events"), ["RETRY_BACKOFF"] = "100ms" };
        string runId;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys, env))
        {
            using var http = new HttpClient { BaseAddress = ksana.BaseAddress };
            http.DefaultRequestHeaders.Add("X-API-Key", "k");
            var job = new JsonObject
            {
                ["name"] = "crash", ["http"] = new JsonObject { ["url"] = callee.Url("/job") },
                ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1h" }, ["max_retries"] = 0,
            };
            var created = await (await http.PostAsJsonAsync("/jobs", job)).Content.ReadFromJsonAsync<JsonObject>();
            var started = await (await http.PostAsync($"/jobs/{created!["id"]}/run-now", null)).Content.ReadFromJsonAsync<JsonObject>();
            runId = started!["run_id"]!.GetValue<string>();
            await Assert.That(await Poll.Until(() => callee.RequestsTo("/events").Count >= 2, TimeSpan.FromSeconds(10))).IsTrue();
            ksana.Kill9();
            await ksana.WaitExitAsync(TimeSpan.FromSeconds(5));
        }

        callee.Always("/events", Reply.Ok);
        var before = callee.RequestsTo("/events").Count;
        await using (var restarted = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys, env))
        {
            await Assert.That(await Poll.Until(() => callee.RequestsTo("/events").Count > before, TimeSpan.FromSeconds(10))).IsTrue()
                .Because($"{before} calls before the restart\n{restarted.Output}");
            var delivered = JsonNode.Parse(callee.RequestsTo("/events")[before].Body)!;
            await Assert.That(delivered["type"]!.GetValue<string>()).IsEqualTo("run.failed");
            await Assert.That(delivered["run"]!["run_id"]!.GetValue<string>()).IsEqualTo(runId);
            // Taken once: nothing more is sent for it.
            await Task.Delay(500);
            await Assert.That(callee.RequestsTo("/events").Count).IsEqualTo(before + 1);
        }
    }
}
