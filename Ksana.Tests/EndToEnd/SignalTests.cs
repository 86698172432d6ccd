using System.Diagnostics;
using System.Net;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §1 and §3: SIGTERM and SIGINT stop gracefully; SIGHUP re-reads the keys and stops nothing.</summary>
public sealed class SignalTests
{
    [Test]
    [Arguments(KsanaProcess.SigTerm)]
    [Arguments(KsanaProcess.SigInt)]
    public async Task An_idle_server_stops_on_the_signal_with_exit_0_and_keeps_its_jobs(int signal)
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys("signal-key");
        string id;
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
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
