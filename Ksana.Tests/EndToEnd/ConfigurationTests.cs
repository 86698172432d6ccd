using System.Text.RegularExpressions;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §1: bad configuration stops start-up with one line naming the variable, exit code 2.</summary>
public sealed class ConfigurationTests
{
    // Each case is "env:NAME=value" or "arg:--flag", and what the one stderr line must name.
    [Test]
    [Arguments("env:WORKERS=0", "WORKERS")]
    [Arguments("env:DEFAULT_TIMEOUT=abc", "DEFAULT_TIMEOUT")]
    [Arguments("env:PORT=70000", "PORT")]
    [Arguments("arg:--max-retries=101", "MAX_RETRIES|max-retries")]
    [Arguments("arg:--no-such-flag", "no-such-flag")]
    [Arguments("env:RETRY_BACKOFF=-1s", "RETRY_BACKOFF")]
    [Arguments("env:MAX_RETRIES=-1", "MAX_RETRIES")]
    [Arguments("arg:--workers=lots", "WORKERS|workers")]
    public async Task Bad_configuration_exits_2_with_one_line_naming_the_variable(string setting, string named)
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string>();
        var args = new List<string>();
        if (setting.StartsWith("env:"))
        {
            var (name, value) = (setting[4..setting.IndexOf('=')], setting[(setting.IndexOf('=') + 1)..]);
            env[name] = value;
        }
        else
        {
            args.Add(setting[4..]);
        }

        var (code, stdout, stderr) = await KsanaProcess.RunToExitAsync(
            dir.Data, KsanaProcess.FreePort(), env, args, TimeSpan.FromSeconds(15));

        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        await Assert.That(code).IsEqualTo(2).Because($"stdout: {stdout}\nstderr: {stderr}");
        await Assert.That(lines.Length).IsEqualTo(1).Because($"stderr must be one line, was:\n{stderr}");
        await Assert.That(Regex.IsMatch(lines[0], named, RegexOptions.IgnoreCase)).IsTrue()
            .Because($"stderr line \"{lines[0]}\" must name {named}");
    }

    [Test]
    public Task A_port_in_use_exits_1_with_one_line_naming_PORT_before_the_journal_is_read() =>
        TakenPortStopsStartUp(port => (port, null, $"PORT={port}"));

    // URLS is read by Kestrel's parser and probed where Kestrel binds it: an address, localhost, any host.
    [Test]
    [Arguments("http://127.0.0.1:{0}")]
    [Arguments("http://localhost:{0}")]
    [Arguments("http://*:{0}")]
    [Arguments("http://127.0.0.1:{1};http://127.0.0.1:{0}")]
    public Task A_URL_in_use_exits_1_with_one_line_naming_it_before_the_journal_is_read(string urls) =>
        TakenPortStopsStartUp(port => (KsanaProcess.FreePort(),
            new Dictionary<string, string> { ["URLS"] = string.Format(urls, port, KsanaProcess.FreePort()) },
            $"URLS=http://{urls.Split("//")[^1].Split(':')[0]}:{port}"));

    /// <summary>
    /// Another process holds a loopback port; ksana, started as <paramref name="given"/> says for that
    /// port (its PORT, its environment, and what its one stderr line must name), exits 1 with that
    /// line alone: no stack trace from the host, and no replay before the port was found taken.
    /// </summary>
    static async Task TakenPortStopsStartUp(Func<int, (int Port, Dictionary<string, string>? Env, string Named)> given)
    {
        using var dir = new TempDir();
        var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        try
        {
            var (port, env, named) = given(((System.Net.IPEndPoint)holder.LocalEndpoint).Port);
            var (code, stdout, stderr) = await KsanaProcess.RunToExitAsync(dir.Data, port, env, null, TimeSpan.FromSeconds(15));

            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            await Assert.That(code).IsEqualTo(1).Because($"stdout: {stdout}\nstderr: {stderr}");
            await Assert.That(lines.Length).IsEqualTo(1).Because($"stderr must be one line, was:\n{stderr}");
            await Assert.That(lines[0]).Contains(named).And.Contains("in use");
            await Assert.That(stdout + stderr).DoesNotContain("Hosting failed").And.DoesNotContain("   at ");
            await Assert.That(stdout).DoesNotContain("Journal replayed");
        }
        finally
        {
            holder.Stop();
        }
    }

    [Test]
    public async Task URLS_overrides_PORT_and_a_free_URL_is_served()
    {
        using var dir = new TempDir();
        var port = KsanaProcess.FreePort();
        // PORT names a port in use: with URLS set it is not probed, nor bound.
        var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Any, 0);
        holder.Start();
        try
        {
            var env = new Dictionary<string, string>
            {
                ["URLS"] = $"http://127.0.0.1:{port}",
                ["PORT"] = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port.ToString(),
            };
            // Serving /health on the URL's port is the proof.
            await using var ksana = await KsanaProcess.StartAsync(port, dir.Data, null, env);
            await Assert.That(ksana.HasExited).IsFalse();
        }
        finally
        {
            holder.Stop();
        }
    }

    [Test]
    public async Task Help_lists_the_settings_and_exits_0()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = await KsanaProcess.RunToExitAsync(
            dir.Data, KsanaProcess.FreePort(), null, ["--help"], TimeSpan.FromSeconds(15));

        await Assert.That(code).IsEqualTo(0).Because(stderr);
        foreach (var name in new[] { "PORT", "DATA_DIR", "AUTH_KEYS_FILE", "WORKERS", "DEFAULT_TIMEOUT", "MAX_RETRIES", "RETRY_BACKOFF" })
            await Assert.That(stdout).Contains(name);
        await Assert.That(Directory.Exists(dir.Data)).IsFalse().Because("--help must not start the server");
    }

    [Test]
    public async Task Version_prints_the_version_and_exits_0()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = await KsanaProcess.RunToExitAsync(
            dir.Data, KsanaProcess.FreePort(), null, ["--version"], TimeSpan.FromSeconds(15));

        await Assert.That(code).IsEqualTo(0).Because(stderr);
        await Assert.That(Regex.IsMatch(stdout, @"\d+\.\d+\.\d+")).IsTrue().Because($"--version printed \"{stdout}\"");
        await Assert.That(Directory.Exists(dir.Data)).IsFalse().Because("--version must not start the server");
    }
}
