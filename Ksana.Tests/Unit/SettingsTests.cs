using System.Collections;
using Ksana.Hosting;

namespace Ksana.Tests.Unit;

public class SettingsTests
{
    static Settings? Load(string[] args, params (string, string)[] env)
    {
        var table = new Hashtable();
        foreach (var (k, v) in env) table[k] = v;
        return Settings.Load(args, table, out Error);
    }

    static string Error = "";

    [Test]
    [Arguments("WORKERS", "0")]
    [Arguments("WORKERS", "many")]
    [Arguments("PORT", "70000")]
    [Arguments("DEFAULT_TIMEOUT", "abc")]
    [Arguments("DEFAULT_TIMEOUT", "0s")]
    [Arguments("DEFAULT_TIMEOUT", "2h")]
    [Arguments("RETRY_BACKOFF", "-5s")]
    [Arguments("MAX_RETRIES", "101")]
    [Arguments("RUNS_KEPT", "0")]
    [Arguments("LOG_FORMAT", "xml")]
    [Arguments("LOG_LEVEL", "loud")]
    [Arguments("OUTBOUND_DENY", "intranet")]
    [Arguments("OUTBOUND_DENY", "10.0.0.1/8")]
    [Arguments("OUTBOUND_ALLOW", "loopback")]
    [Arguments("OUTBOUND_ALLOW", "192.168.1.20/33")]
    [Arguments("HOST_CONCURRENCY", "0")]
    [Arguments("SIGNING_KEYS_FILE", "/nonexistent/signing-keys")]
    public async Task Bad_values_are_refused_naming_the_variable(string variable, string value)
    {
        string error;
        lock (typeof(SettingsTests))
        {
            var settings = Load([], (variable, value));
            error = settings is null ? Error : "";
        }
        await Assert.That(error).StartsWith($"{variable}={value}: ");
    }

    [Test]
    public async Task A_signing_keys_file_with_a_bad_line_is_refused_naming_the_line_but_not_the_secret()
    {
        var path = Path.Combine(Path.GetTempPath(), "ksana-signing-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, "# keys\nwhsec_" + Convert.ToBase64String(new byte[32]) + "\nwhsec_not-base64-s3cr3t\n");
        try
        {
            string error;
            lock (typeof(SettingsTests))
                error = Load([], ("SIGNING_KEYS_FILE", path)) is null ? Error : "";
            await Assert.That(error).StartsWith($"SIGNING_KEYS_FILE={path}: line 3: ");
            await Assert.That(error).DoesNotContain("s3cr3t");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Defaults_follow_the_spec()
    {
        var s = Load([])!;
        await Assert.That(s.Port).IsEqualTo(7100);
        await Assert.That(s.DataDir).IsEqualTo("./data");
        await Assert.That(s.Workers).IsEqualTo(32);
        await Assert.That(s.DefaultTimeout).IsEqualTo(Duration.FromSeconds(10));
        await Assert.That(s.MaxRetries).IsEqualTo(3);
        await Assert.That(s.RetryBackoff).IsEqualTo(Duration.FromSeconds(5));
    }

    [Test]
    public async Task Flags_win_over_the_environment()
    {
        var s = Load(["--workers", "8", "--default-timeout=1m30s"], ("WORKERS", "4"), ("DEFAULT_TIMEOUT", "5s"))!;
        await Assert.That(s.Workers).IsEqualTo(8);
        await Assert.That(s.DefaultTimeout).IsEqualTo(Duration.FromSeconds(90));
    }

    [Test]
    public async Task Unknown_flags_are_refused()
    {
        string error;
        lock (typeof(SettingsTests))
        {
            _ = Load(["--wrokers", "8"]);
            error = Error;
        }
        await Assert.That(error).Contains("--wrokers");
    }
}
