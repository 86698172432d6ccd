using System.Text.RegularExpressions;

namespace Ksana.Tests.EndToEnd;

/// <summary>The start-up line a user reads first: how long this run of the binary took to be ready.</summary>
public sealed partial class StartupLogTests
{
    [GeneratedRegex(@"ready (\d+) ms after start")]
    private static partial Regex ReadyLine();

    [Test]
    public async Task Ready_time_counts_from_the_binary_not_from_the_script_that_execs_it()
    {
        using var dir = new TempDir();
        // A launcher that waits, then becomes ksana, as ./build.sh run does after its build: the
        // process, and the start time the kernel keeps for it, are the launcher's.
        const int LauncherMs = 3000;
        await using var ksana = KsanaProcess.Launch(KsanaProcess.FreePort(), dir.Data, dir.Combine("keys"),
            env: new Dictionary<string, string> { ["LOG_LEVEL"] = "Information" },
            command: ["/bin/sh", "-c", $"sleep {LauncherMs / 1000}; exec \"$0\"", KsanaProcess.BinaryPath]);
        await ksana.WaitHealthyAsync(TimeSpan.FromSeconds(30));
        Match ready = Match.Empty;
        for (var i = 0; i < 100 && !(ready = ReadyLine().Match(ksana.Output)).Success; i++) await Task.Delay(50);
        await Assert.That(ready.Success).IsTrue().Because(ksana.Output);
        await Assert.That(int.Parse(ready.Groups[1].Value)).IsLessThan(LauncherMs).Because(ksana.Output);
    }
}
