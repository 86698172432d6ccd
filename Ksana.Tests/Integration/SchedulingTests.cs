using System.Globalization;
using System.Text.Json.Nodes;

namespace Ksana.Tests.Integration;

/// <summary>
/// The timing rules of SPEC §2 as seen through the API, in real time with one-second schedules
/// (the fine-grained cases are unit tests with a fake clock).
/// </summary>
public sealed class SchedulingTests
{
    static string Id(JsonObject job) => job["id"]!.GetValue<string>();

    static DateTimeOffset Time(JsonNode? node) => DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture);


    [Test]
    public async Task Every_job_fires_on_its_fixed_grid()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        var doc = JobDocs.Calling(callee.Url("/tick"));
        doc["schedule"]!["every"] = "1s";
        var job = await ksana.CreateJobAsync(doc);
        var created = Time(job["created_at"]);

        await Assert.That(await Poll.Until(() => callee.RequestsTo("/tick").Count >= 2, TimeSpan.FromSeconds(4))).IsTrue();
        var done = await Poll.Until(async () => (await ksana.RunsAsync(Id(job))).Count(r => r!["status"]!.GetValue<string>() == "succeeded") >= 2,
            TimeSpan.FromSeconds(2));
        await Assert.That(done).IsTrue();

        var runs = (await ksana.RunsAsync(Id(job))).Where(r => r!["status"]!.GetValue<string>() == "succeeded").ToList();
        foreach (var run in runs)
        {
            await Assert.That(run!["trigger"]!.GetValue<string>()).IsEqualTo("schedule");
            var offset = Time(run["scheduled_at"]) - created;
            // scheduled_at = created_at + k·1s exactly, k ≥ 1.
            await Assert.That(offset.Ticks % TimeSpan.TicksPerSecond).IsEqualTo(0L);
            await Assert.That(offset).IsGreaterThanOrEqualTo(TimeSpan.FromSeconds(1));
        }
        foreach (var request in callee.RequestsTo("/tick"))
        {
            // Fired at its slot, not long after (generous for a shared 2-core machine).
            var slot = created.AddSeconds(Math.Round((request.ArrivedAt - created).TotalSeconds));
            await Assert.That((request.ArrivedAt - slot).TotalMilliseconds).IsLessThan(400);
        }
        var view = await ksana.GetJsonAsync($"/jobs/{Id(job)}");
        await Assert.That(((Time(view["next_run_at"]) - created).Ticks % TimeSpan.TicksPerSecond)).IsEqualTo(0L);
    }

    [Test]
    public async Task Once_job_fires_at_run_at_and_is_completed()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        var doc = JobDocs.Calling(callee.Url("/once"));
        var runAt = DateTimeOffset.UtcNow.AddMilliseconds(800);
        doc["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = Rfc3339.Format(runAt) };
        var job = await ksana.CreateJobAsync(doc);

        var completed = await Poll.Until(async () =>
            (await ksana.GetJsonAsync($"/jobs/{Id(job)}"))["last_run"]?["status"]?.GetValue<string>() == "succeeded", TimeSpan.FromSeconds(4));

        await Assert.That(completed).IsTrue();
        var view = await ksana.GetJsonAsync($"/jobs/{Id(job)}");
        await Assert.That(view["state"]!.GetValue<string>()).IsEqualTo("completed");
        await Assert.That(view["next_run_at"]).IsNull();
        await Assert.That(view["last_run"]!["trigger"]!.GetValue<string>()).IsEqualTo("schedule");
        await Assert.That(view["last_run"]!["scheduled_at"]!.GetValue<string>()).IsEqualTo(view["schedule"]!["run_at"]!.GetValue<string>());
        var request = callee.RequestsTo("/once").Single();
        await Assert.That((request.ArrivedAt - runAt).TotalMilliseconds).IsGreaterThanOrEqualTo(-20).And.IsLessThan(500);
        await Assert.That((await ksana.GetJsonAsync("/jobs?state=completed"))["jobs"]!.AsArray().Count).IsEqualTo(1);

        // run-now works on a finished job and leaves it completed.
        var extra = await ksana.RunNowAsync(Id(job));
        var manual = await ksana.WaitForRunAsync(Id(job), extra);
        await Assert.That(manual["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(manual["trigger"]!.GetValue<string>()).IsEqualTo("manual");
        await Assert.That((await ksana.GetJsonAsync($"/jobs/{Id(job)}"))["state"]!.GetValue<string>()).IsEqualTo("completed");
        await Assert.That(callee.RequestsTo("/once").Count).IsEqualTo(2);
    }

    [Test]
    public async Task Resuming_a_once_job_after_its_run_at_marks_it_missed()
    {
        await using var callee = await Callee.StartAsync();
        var clock = FakeClock.AtNow();
        await using var ksana = await KsanaServer.StartAsync(time: clock);
        var doc = JobDocs.Calling(callee.Url("/never"));
        doc["enabled"] = false;
        doc["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = Rfc3339.Format(clock.GetUtcNow().AddMilliseconds(500)) };
        var job = await ksana.CreateJobAsync(doc);
        await Assert.That(job["state"]!.GetValue<string>()).IsEqualTo("paused");

        clock.Advance(TimeSpan.FromMilliseconds(900));
        var resumed = await Answer.Of(ksana.PostEmptyAsync($"/jobs/{Id(job)}/resume"));

        await Assert.That(resumed.Status).IsEqualTo(200);
        await Assert.That(resumed.Json!["state"]!.GetValue<string>()).IsEqualTo("missed");
        var runs = await ksana.RunsAsync(Id(job));
        await Assert.That(runs.Count).IsEqualTo(1);
        await Assert.That(runs[0]!["status"]!.GetValue<string>()).IsEqualTo("missed");
        var fired = await clock.AdvanceUntilAsync(() => callee.Requests.Count > 0, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2));
        await Assert.That(fired).IsFalse();
    }

    [Test]
    public async Task A_slot_due_while_the_previous_run_is_in_flight_is_skipped()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/busy", new Reply(200, TimeSpan.FromMilliseconds(1600)));
        await using var ksana = await KsanaServer.StartAsync();
        var doc = JobDocs.Calling(callee.Url("/busy"), timeout: "5s");
        doc["schedule"]!["every"] = "1s";
        var job = await ksana.CreateJobAsync(doc);

        var skipped = await Poll.Until(async () =>
            (await ksana.RunsAsync(Id(job))).Any(r => r!["status"]!.GetValue<string>() == "skipped"), TimeSpan.FromSeconds(4));

        await Assert.That(skipped).IsTrue();
        await Assert.That(callee.InFlightMax).IsEqualTo(1);
        await ksana.Client.DeleteAsync($"/jobs/{Id(job)}");
    }

    [Test]
    public async Task Paused_every_job_does_not_fire()
    {
        await using var callee = await Callee.StartAsync();
        var clock = FakeClock.AtNow();
        await using var ksana = await KsanaServer.StartAsync(time: clock);
        var doc = JobDocs.Calling(callee.Url("/paused"));
        doc["schedule"]!["every"] = "1s";
        var job = await ksana.CreateJobAsync(doc);
        var paused = await Answer.Of(ksana.PostEmptyAsync($"/jobs/{Id(job)}/pause"));
        await Assert.That(paused.Json!["next_run_at"]).IsNull();

        // Five slots' worth of fake time, each step given real time to show a call that should not come.
        var fired = await clock.AdvanceUntilAsync(() => callee.Requests.Count > 0, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));

        await Assert.That(fired).IsFalse();
        await Assert.That(callee.Requests.Count).IsEqualTo(0);
        await Assert.That((await ksana.RunsAsync(Id(job))).Count).IsEqualTo(0);
    }
}
