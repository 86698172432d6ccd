using System.Net;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §1: DATA_DIR is locked, so a second instance on it refuses to start.</summary>
public sealed class DataDirLockTests
{
    [Test]
    public async Task A_second_instance_on_the_same_data_dir_refuses_to_start()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys("lock-key");
        await using var first = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys);
        using var api = first.Api("lock-key");
        var job = await api.CreateJobAsync(JobDocs.Every("locked", "http://127.0.0.1:9/", "1h"));

        await using var second = KsanaProcess.Launch(KsanaProcess.FreePort(), dir.Data, keys);
        var code = await second.WaitExitAsync(TimeSpan.FromSeconds(15));

        await Assert.That(code).IsNotEqualTo(0).Because(second.Output);
        await Assert.That(second.Stderr).Contains(Path.GetFullPath(dir.Data)).Because($"the message must name the directory:\n{second.Output}");
        await Assert.That(second.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length).IsLessThanOrEqualTo(3)
            .Because($"a clear message, not a stack trace:\n{second.Output}");

        // The first instance is unharmed and still serves its jobs.
        var (status, _, _) = await api.SendAsync(HttpMethod.Get, $"/jobs/{job!["id"]?.GetValue<string>()}");
        await Assert.That(status).IsEqualTo((int)HttpStatusCode.OK);
        await Assert.That(first.HasExited).IsFalse();
    }
}
