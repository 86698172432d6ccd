using System.Diagnostics;

namespace Ksana.Tests.Support;

/// <summary>
/// Runs the real <c>promtool check metrics</c> (Debian package <c>prometheus</c>) on an exposition.
/// A machine without promtool fails the test that asks, with what to install: a format check that
/// silently passes when its checker is missing checks nothing.
/// </summary>
public static class Promtool
{
    public static string Path() =>
        FindOnPath("promtool") ?? throw new InvalidOperationException(
            "promtool is not installed, so the /metrics format cannot be checked. Install it: " +
            "apt-get install -y prometheus (Debian/Ubuntu; ./build.sh test does this when run as root), " +
            "or put promtool from a Prometheus release on PATH.");

    /// <summary>Returns promtool's exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string exposition)
    {
        var start = new ProcessStartInfo(Path(), ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, (await stdout) + (await stderr));
    }

    static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = System.IO.Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
