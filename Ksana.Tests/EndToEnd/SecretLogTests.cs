using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Ksana.Tests.EndToEnd;

/// <summary>
/// SPEC §3 and §8: keys, secrets and secret header values are never logged. The published binary
/// runs at the most talkative log level through everything that logs (failed runs of every kind,
/// blocked callbacks, bad keys, a bad signing file, SIGHUP, shutdown), and all it wrote is searched.
/// </summary>
public sealed class SecretLogTests
{
    const string Marker = "S3KR1T";

    [Test]
    public async Task Nothing_Ksana_logs_contains_a_key_a_signing_secret_or_a_secret_value()
    {
        using var dir = new TempDir();
        var apiKey = $"api-key-{Marker}-{Guid.NewGuid():N}";
        var keys = dir.WriteKeys(apiKey);
        var secretBytes = RandomNumberGenerator.GetBytes(32);
        var signingSecret = "whsec_" + Convert.ToBase64String(secretBytes);
        var signing = dir.Combine("signing");
        File.WriteAllText(signing, signingSecret + "\n");
        await using var callee = await Callee.StartAsync();
        callee.Always("/fails", new Reply(500));
        callee.Always("/refuses", new Reply(403));
        var port = KsanaProcess.FreePort();
        await using var ksana = await KsanaProcess.StartAsync(port, dir.Data, keys, new Dictionary<string, string>
        {
            ["LOG_LEVEL"] = "Trace",
            ["SIGNING_KEYS_FILE"] = signing,
        });
        using var client = ksana.Api(apiKey);

        JsonObject Job(string url) => new()
        {
            ["name"] = "secretive",
            ["http"] = new JsonObject
            {
                ["method"] = "POST",
                ["url"] = url,
                ["headers"] = new JsonObject
                {
                    ["Authorization"] = $"Bearer bearer-{Marker}",
                    ["X-Api-Key"] = $"header-key-{Marker}",
                    ["Cookie"] = $"session=cookie-{Marker}",
                },
                ["body"] = "{\"run\":\"{{run_id}}\"}",
            },
            ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1h" },
            ["max_retries"] = 1,
            ["retry_backoff"] = "10ms",
            ["timeout"] = "2s",
        };
        string WithPassword(string url) => url.Replace("http://", $"http://robot:password-{Marker}@");

        var urls = new[]
        {
            WithPassword(callee.Url("/fails")),
            WithPassword(callee.Url("/refuses")),
            WithPassword(callee.Url("/fine")),
            WithPassword("http://127.0.0.1:9/nobody-listens"),
            WithPassword($"http://localhost:{port}/jobs"),
        };
        var ids = new List<string>();
        foreach (var url in urls)
        {
            var job = await client.CreateJobAsync(Job(url));
            ids.Add(job["id"]!.GetValue<string>());
            // A URL without the job's Authorization sends the user info as Basic credentials.
            var basic = Job(url);
            basic["http"]!["headers"]!.AsObject().Remove("Authorization");
            ids.Add((await client.CreateJobAsync(basic))["id"]!.GetValue<string>());
        }
        foreach (var id in ids)
            await client.SendAsync(HttpMethod.Post, $"/jobs/{id}/run-now");
        foreach (var id in ids)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while ((await client.RunsAsync(id)).FirstOrDefault() is not { } run || run["status"]!.GetValue<string>() is not ("succeeded" or "failed"))
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {id}'s run did not finish\n{ksana.Output}");
                await Task.Delay(50);
            }
        }

        // Wrong keys, a create that fails validation, a bad signing file (kept: the old secret stays), SIGHUP.
        using (var wrong = new HttpClient { BaseAddress = ksana.BaseAddress })
        {
            wrong.DefaultRequestHeaders.Add("X-API-Key", $"wrong-key-{Marker}");
            using var refused = await wrong.GetAsync("/jobs");
            await Assert.That(refused.StatusCode).IsEqualTo(HttpStatusCode.Unauthorized);
        }
        var invalid = Job(urls[0]);
        invalid["max_retry"] = 1;
        await client.SendAsync(HttpMethod.Post, "/jobs", invalid.ToJsonString());
        File.WriteAllText(signing, $"{signingSecret}\nwhsec_not-base64-{Marker}\n");
        ksana.Signal(1);
        await Task.Delay(1500);

        await Assert.That(await ksana.StopAsync()).IsEqualTo(0);
        var output = ksana.Output;
        string[] secrets =
        [
            Marker, apiKey, signingSecret, Convert.ToBase64String(secretBytes),
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"robot:password-{Marker}")),
        ];
        foreach (var secret in secrets)
            await Assert.That(output).DoesNotContain(secret).Because(output);
        // The log did say what happened, so the search above searched something.
        await Assert.That(output).Contains("failed");
        await Assert.That(output).Contains("blocked by OUTBOUND_DENY");
        await Assert.That(output).Contains("SIGNING_KEYS_FILE");
    }
}
