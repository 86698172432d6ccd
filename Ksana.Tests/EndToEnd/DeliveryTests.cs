using System.Text.Json;
using System.Text.RegularExpressions;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §2 "Timing" and §5 seen from a real callee: the grid, the once job, what each call carries.</summary>
public sealed class DeliveryTests
{
    const string Key = "delivery-key";

    [Test]
    [NotInParallel("timing")]
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
    [NotInParallel("timing")]
    public async Task A_once_job_fires_once_at_run_at_and_completes()
    {
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, dir.WriteKeys(Key));
        using var api = new KsanaClient(ksana, Key);

        var runAt = JobBodies.WholeSecondAfter(TimeSpan.FromSeconds(1.5));
        var job = await api.CreateJobAsync(JobBodies.Once("once", callee.Url("/once"), runAt));
        var jobId = job.GetProperty("id").GetString()!;
        await Assert.That(job.GetProperty("state").GetString()).IsEqualTo("scheduled");
        await Assert.That(JobBodies.Time(job.GetProperty("next_run_at"))).IsEqualTo(runAt);

        var call = (await callee.WaitForAsync("/once", 1, runAt - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(3)))[0];
        var timing = $"run_at {JobBodies.Rfc3339(runAt)}, arrived {JobBodies.Rfc3339(call.ArrivedAt)}";
        await Assert.That(call.ArrivedAt).IsGreaterThanOrEqualTo(runAt - Grid.Early).Because(timing);
        await Assert.That(call.ArrivedAt - runAt).IsLessThanOrEqualTo(Grid.Tolerance).Because(timing);
        await Assert.That(JobBodies.Time(JsonDocument.Parse(call.Body).RootElement.GetProperty("scheduled_at"))).IsEqualTo(runAt);

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
}
