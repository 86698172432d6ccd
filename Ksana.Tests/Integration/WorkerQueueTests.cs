namespace Ksana.Tests.Integration;

/// <summary>Time spent queueing for a worker is not part of an attempt (SPEC §5: per-attempt timeout).</summary>
public class WorkerQueueTests
{
    static string Id(System.Text.Json.Nodes.JsonObject job) => job["id"]!.GetValue<string>();

    [Test]
    public async Task An_attempt_waiting_for_a_worker_does_not_time_out_before_it_is_sent()
    {
        await using var callee = await Callee.StartAsync();
        callee.Always("/slow", new Reply(200, TimeSpan.FromMilliseconds(600)));
        callee.Always("/fast", Reply.Ok);
        await using var ksana = await KsanaServer.StartAsync(s => s with { Workers = 1 });
        var slow = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/slow"), timeout: "2s"));
        var fast = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/fast"), timeout: "300ms"));

        var slowRun = await ksana.RunNowAsync(Id(slow));
        await Assert.That(await Poll.Until(() => callee.RequestsTo("/slow").Count >= 1, TimeSpan.FromSeconds(5))).IsTrue();
        // The only worker is busy for 600 ms: longer than the fast job's whole 300 ms timeout.
        var fastRun = await ksana.RunNowAsync(Id(fast));
        var done = await ksana.WaitForRunAsync(Id(fast), fastRun, TimeSpan.FromSeconds(5));
        await ksana.WaitForRunAsync(Id(slow), slowRun, TimeSpan.FromSeconds(5));

        await Assert.That(done["status"]!.GetValue<string>()).IsEqualTo("succeeded").Because(done.ToJsonString());
        await Assert.That(done["attempts"]!.AsArray().Count).IsEqualTo(1);
        await Assert.That(callee.RequestsTo("/fast").Count).IsEqualTo(1);
    }
}
