using System.Diagnostics;
using System.Net;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §1 and §3: SIGTERM and SIGINT stop gracefully; SIGHUP re-reads the keys and stops nothing.</summary>
public sealed class SignalTests
{
    /// <summary>
    /// ksana with SIGINT at its default disposition, as a service manager or a terminal starts it.
    /// A suite launched as a background job of a script (<c>./build.sh test &amp;</c>) hands its
    /// children SIGINT ignored, which ksana keeps (see the next test), so the disposition is reset here.
    /// </summary>
    static readonly string[] WithDefaultSigInt = ["/usr/bin/env", "--default-signal=INT", KsanaProcess.BinaryPath];

    /// <summary>ksana started as a script's background job (<c>ksana &amp;</c> in sh): SIGINT ignored.</summary>
    static readonly string[] WithSigIntIgnored = ["/bin/sh", "-c", "trap '' INT; exec \"$0\"", KsanaProcess.BinaryPath];

    [Test]
    [Arguments(KsanaProcess.SigTerm)]
    [Arguments(KsanaProcess.SigInt)]
    public async Task An_idle_server_stops_on_the_signal_with_exit_0_and_keeps_its_jobs(int signal)
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys("signal-key");
        string id;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys, command: WithDefaultSigInt))
        {
            using var api = ksana.Api("signal-key");
            id = (await api.CreateJobAsync(JobDocs.Every("signal", "http://127.0.0.1:9/", "1h")))!["id"]?.GetValue<string>()!;
            var stopping = Stopwatch.StartNew();
            ksana.Signal(signal);
            var code = await ksana.WaitExitAsync(TimeSpan.FromSeconds(10));
            Console.WriteLine($"signal {signal}: exited {code} after {stopping.ElapsedMilliseconds} ms");
            await Assert.That(code).IsEqualTo(0).Because(ksana.Output);
            await Assert.That(stopping.Elapsed).IsLessThan(TimeSpan.FromSeconds(5)).Because("nothing is in flight, so the stop should be prompt");
        }
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api("signal-key");
            await Assert.That((await api.SendAsync(HttpMethod.Get, $"/jobs/{id}")).Status).IsEqualTo((int)HttpStatusCode.OK);
        }
    }

    [Test]
    public async Task A_server_started_with_SIGINT_ignored_keeps_ignoring_it_and_stops_on_SIGTERM()
    {
        // A script's background job (`ksana &` in sh) starts with SIGINT ignored, so that a Ctrl-C
        // meant for the script does not reach it; ksana keeps that, as POSIX programs do.
        using var dir = new TempDir();
        var keys = dir.WriteKeys("ignored-key");
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys, command: WithSigIntIgnored))
        {
            using var api = ksana.Api("ignored-key");
            ksana.Signal(KsanaProcess.SigInt);
            await Task.Delay(1000);
            await Assert.That(ksana.HasExited).IsFalse().Because($"SIGINT was ignored when ksana started\n{ksana.Output}");
            await Assert.That((await api.SendAsync(HttpMethod.Get, "/jobs")).Status).IsEqualTo((int)HttpStatusCode.OK);
            ksana.Signal(KsanaProcess.SigTerm);
            await Assert.That(await ksana.WaitExitAsync(TimeSpan.FromSeconds(10))).IsEqualTo(0).Because(ksana.Output);
        }
    }

    [Test]
    public async Task Sighup_rereads_the_keys_and_the_server_goes_on()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys("hup-old");
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys);
        using var http = new HttpClient { BaseAddress = ksana.BaseAddress };

        File.WriteAllText(keys, "hup-new\n");
        ksana.Signal(KsanaProcess.SigHup);
        var deadline = DateTime.UtcNow.AddSeconds(3);
        var status = HttpStatusCode.Unauthorized;
        while (DateTime.UtcNow < deadline && !ksana.HasExited)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/jobs");
            request.Headers.Add("X-API-Key", "hup-new");
            try
            {
                using var response = await http.SendAsync(request);
                status = response.StatusCode;
                if (status == HttpStatusCode.OK) break;
            }
            catch (HttpRequestException) { }
            await Task.Delay(50);
        }
        await Assert.That(ksana.HasExited).IsFalse().Because($"SIGHUP must not stop the server\n{ksana.Output}");
        await Assert.That(status).IsEqualTo(HttpStatusCode.OK);
        using (var health = await http.GetAsync("/health"))
            await Assert.That(health.StatusCode).IsEqualTo(HttpStatusCode.OK);
    }
}
