using System.Text.Json.Nodes;

namespace Ksana.Tests.Integration;

/// <summary>API keys (SPEC §3): both headers, wrong and missing keys, /health, no key file, rotation.</summary>
public sealed class AuthTests
{
    static HttpRequestMessage Get(string path, string? header = null, string? value = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (header is not null) request.Headers.TryAddWithoutValidation(header, value);
        return request;
    }

    static async Task AssertUnauthorized(Answer answer, string? secret = null)
    {
        await Assert.That(answer.Status).IsEqualTo(401).Because(answer.ToString());
        await Assert.That(answer.Headers.WwwAuthenticate.ToString()).IsEqualTo("ApiKey");
        await Assert.That(answer.ContentType).IsEqualTo("application/problem+json");
        await Assert.That(answer.Json!["status"]!.GetValue<int>()).IsEqualTo(401);
        await Assert.That(answer.Json!.AsObject().ContainsKey("title")).IsTrue();
        if (secret is not null) await Assert.That(answer.Body).DoesNotContain(secret);
    }

    [Test]
    public async Task Both_key_headers_are_accepted()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var viaAuthorization = await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "Authorization", $"ApiKey {ksana.Key}")));
        await Assert.That(viaAuthorization.Status).IsEqualTo(200).Because(viaAuthorization.ToString());
        var viaHeader = await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", ksana.Key)));
        await Assert.That(viaHeader.Status).IsEqualTo(200).Because(viaHeader.ToString());
    }

    [Test]
    public async Task Missing_key_is_401_with_challenge_and_problem_on_every_endpoint()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var id = (await ksana.CreateJobAsync(JobDocs.Hourly()))["id"]!.GetValue<string>();
        (HttpMethod, string)[] calls =
        [
            (HttpMethod.Get, "/jobs"), (HttpMethod.Post, "/jobs"), (HttpMethod.Get, $"/jobs/{id}"),
            (HttpMethod.Patch, $"/jobs/{id}"), (HttpMethod.Delete, $"/jobs/{id}"), (HttpMethod.Post, $"/jobs/{id}/run-now"),
            (HttpMethod.Post, $"/jobs/{id}/pause"), (HttpMethod.Post, $"/jobs/{id}/resume"), (HttpMethod.Get, $"/jobs/{id}/runs"),
        ];
        foreach (var (method, path) in calls)
        {
            var request = new HttpRequestMessage(method, path);
            if (method == HttpMethod.Post || method == HttpMethod.Patch) request.Content = KsanaServer.Json("""{"name":"x"}""");
            await AssertUnauthorized(await Answer.Of(ksana.Anonymous.SendAsync(request)));
        }
        // Nothing the unauthenticated calls asked for happened.
        var job = await ksana.GetJsonAsync($"/jobs/{id}");
        await Assert.That(job["name"]!.GetValue<string>()).IsEqualTo("job");
        await Assert.That(job["state"]!.GetValue<string>()).IsEqualTo("scheduled");
        await Assert.That((await ksana.RunsAsync(id)).Count).IsEqualTo(0);
    }

    [Test]
    [Arguments("X-API-Key", "wrong-key")]
    [Arguments("Authorization", "ApiKey wrong-key")]
    [Arguments("Authorization", "Bearer {key}")]
    [Arguments("Authorization", "{key}")]
    [Arguments("X-API-Key", "")]
    [Arguments("Authorization", "ApiKey ")]
    [Arguments("X-API-Key", "{key}x")]
    public async Task Wrong_key_is_401_with_challenge_and_not_echoed(string header, string value)
    {
        await using var ksana = await KsanaServer.StartAsync();
        var sent = value.Replace("{key}", ksana.Key);
        var answer = await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", header, sent)));
        await AssertUnauthorized(answer, secret: sent.Length > 8 ? sent.Split(' ')[^1] : null);
    }

    [Test]
    public async Task Health_needs_no_key_and_reveals_nothing()
    {
        await using var ksana = await KsanaServer.StartAsync();
        await ksana.CreateJobAsync(JobDocs.Hourly("secret-name"));
        var answer = await Answer.Of(ksana.Anonymous.GetAsync("/health"));
        await Assert.That(answer.Status).IsEqualTo(200);
        await Assert.That(answer.ContentType).IsEqualTo("application/json");
        await Assert.That(answer.Json!.ToJsonString()).IsEqualTo("""{"status":"ok"}""");
        var wrongKey = await Answer.Of(ksana.Anonymous.SendAsync(Get("/health", "X-API-Key", "wrong")));
        await Assert.That(wrongKey.Status).IsEqualTo(200);
    }

    [Test]
    public async Task Without_a_keys_file_every_call_is_401_but_health_is_200()
    {
        await using var ksana = await KsanaServer.StartAsync(withKeysFile: false);
        await AssertUnauthorized(await Answer.Of(ksana.Client.GetAsync("/jobs")));
        await AssertUnauthorized(await Answer.Of(ksana.Client.PostAsync("/jobs", KsanaServer.Json(JobDocs.Hourly()))));
        await AssertUnauthorized(await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "Authorization", "ApiKey "))));
        await AssertUnauthorized(await Answer.Of(ksana.Anonymous.GetAsync("/jobs")));
        var health = await Answer.Of(ksana.Anonymous.GetAsync("/health"));
        await Assert.That(health.Status).IsEqualTo(200);
    }

    [Test]
    [Arguments("")]
    [Arguments("\n\n   \n")]
    [Arguments("# only a comment\n#another-key\n")]
    public async Task Keys_file_without_a_key_rejects_every_call(string content)
    {
        await using var ksana = await KsanaServer.StartAsync(keysFileContent: content);
        await AssertUnauthorized(await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", "another-key"))));
        await AssertUnauthorized(await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", "#another-key"))));
        await AssertUnauthorized(await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", ""))));
        await AssertUnauthorized(await Answer.Of(ksana.Anonymous.GetAsync("/jobs")));
        await Assert.That((await Answer.Of(ksana.Anonymous.GetAsync("/health"))).Status).IsEqualTo(200);
    }

    [Test]
    public async Task Keys_are_trimmed_and_comment_lines_are_not_keys()
    {
        await using var ksana = await KsanaServer.StartAsync(keysFileContent: "# rotated 2025-09-19\n\n   spaced-key \t\n#commented-key\nsecond-key\n");
        foreach (var good in new[] { "spaced-key", "second-key" })
        {
            var answer = await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", good)));
            await Assert.That(answer.Status).IsEqualTo(200).Because(good);
        }
        foreach (var bad in new[] { "#commented-key", "commented-key", "# rotated 2025-09-19", "   spaced-key \t" + "x" })
            await AssertUnauthorized(await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", bad))));
    }

    [Test]
    public async Task Rewriting_the_keys_file_rotates_keys_without_a_restart()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var old = ksana.Key;
        var fresh = "rotated-" + Guid.NewGuid().ToString("N");
        await Assert.That((await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", old)))).Status).IsEqualTo(200);

        await File.WriteAllTextAsync(ksana.KeysFile!, $"# rotated\n{fresh}\n");

        var accepted = await Poll.Until(async () =>
            (await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", fresh)))).Status == 200, TimeSpan.FromSeconds(3.5), TimeSpan.FromMilliseconds(200));
        await Assert.That(accepted).IsTrue().Because("the new key should be accepted within ~3 s of the rewrite");
        await AssertUnauthorized(await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", old))), secret: old);

        // Emptying the file revokes every key.
        await File.WriteAllTextAsync(ksana.KeysFile!, "# no keys\n");
        var revoked = await Poll.Until(async () =>
            (await Answer.Of(ksana.Anonymous.SendAsync(Get("/jobs", "X-API-Key", fresh)))).Status == 401, TimeSpan.FromSeconds(3.5), TimeSpan.FromMilliseconds(200));
        await Assert.That(revoked).IsTrue().Because("an emptied keys file should reject the old key within ~3 s");
    }
}
