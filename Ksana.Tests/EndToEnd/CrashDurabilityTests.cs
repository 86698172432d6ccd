using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §4 and §6: a 2xx is sent only once the change is on disk, so a kill -9 loses no acknowledged job.</summary>
public sealed class CrashDurabilityTests
{
    const string Key = "burst-key";
    const int Clients = 64;

    [Test]
    [NotInParallel] // alone: lateness measured on a 2-core machine must not include other tests' load
    public async Task Kill_9_during_a_burst_of_creates_loses_no_job_that_got_a_201()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        var acked = new ConcurrentBag<string>();
        var failures = new ConcurrentBag<string>();
        var body = JobDocs.Every("burst", "http://127.0.0.1:9/", "1h").ToJsonString();

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = Clients };
            using var http = new HttpClient(handler) { BaseAddress = ksana.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
            http.DefaultRequestHeaders.Add("X-API-Key", Key);
            using var stop = new CancellationTokenSource();

            var clients = Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        using var response = await http.PostAsync("/jobs", KsanaApi.Json(body));
                        if (response.StatusCode == HttpStatusCode.Created)
                            acked.Add(response.Headers.Location!.OriginalString.Split('/').Last());
                        else
                            failures.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    }
                    catch (Exception) when (stop.IsCancellationRequested || ksana.HasExited)
                    {
                        return; // the crash cut the request off: it was never acknowledged
                    }
                    catch (HttpRequestException)
                    {
                        return; // the process died between the checks above and the call
                    }
                }
            })).ToArray();

            await Task.Delay(TimeSpan.FromMilliseconds(1500));
            ksana.Kill9();
            await ksana.WaitExitAsync(TimeSpan.FromSeconds(5));
            stop.Cancel();
            await Task.WhenAll(clients);
        }

        await Assert.That(failures.Count).IsEqualTo(0).Because(string.Join("\n", failures.Take(5)));
        await Assert.That(acked.Count).IsGreaterThan(0);

        var timer = Stopwatch.StartNew();
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            var restart = timer.Elapsed;
            using var api = ksana.Api(Key);
            var listed = (await api.ListAllJobsAsync()).Select(j => j!["id"]?.GetValue<string>()!).ToHashSet();
            var lost = acked.Where(id => !listed.Contains(id)).ToArray();
            await Assert.That(lost.Length).IsEqualTo(0)
                .Because($"{lost.Length} of {acked.Count} acknowledged jobs are gone after kill -9, e.g. {string.Join(", ", lost.Take(5))}");
            await Assert.That(listed.Count).IsGreaterThanOrEqualTo(acked.Count);

            // And each one is there by id.
            var ids = new ConcurrentQueue<string>(acked);
            var missing = new ConcurrentBag<string>();
            await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
            {
                while (ids.TryDequeue(out var id))
                {
                    using var response = await api.Client.GetAsync($"/jobs/{id}");
                    if (response.StatusCode != HttpStatusCode.OK) missing.Add($"{id}: {(int)response.StatusCode}");
                }
            })));
            await Assert.That(missing.Count).IsEqualTo(0).Because(string.Join("\n", missing.Take(5)));
            Console.WriteLine($"burst: {acked.Count} jobs acknowledged in 1.5 s by {Clients} clients; {listed.Count} after restart (restart to /health {restart.TotalMilliseconds:F0} ms)");
        }
    }
}
