namespace Ksana.Tests.Integration;

/// <summary>Key scopes (SPEC §3): a read key may only GET; an admin key (or one without a scope) may do everything.</summary>
public sealed class KeyScopeTests
{
    [Test]
    public async Task A_read_key_gets_everything_and_changes_nothing()
    {
        var admin = "admin-" + Guid.NewGuid().ToString("N");
        var reader = "read-" + Guid.NewGuid().ToString("N");
        await using var ksana = await KsanaServer.StartAsync(keysFileContent: $"{admin} admin\n{reader} read\n");
        using var adminClient = new HttpClient { BaseAddress = ksana.Address };
        adminClient.DefaultRequestHeaders.Add("X-API-Key", admin);
        using var readClient = new HttpClient { BaseAddress = ksana.Address };
        readClient.DefaultRequestHeaders.Add("Authorization", $"ApiKey {reader}");

        using var created = await adminClient.PostAsync("/jobs", KsanaServer.Json(JobDocs.Hourly()));
        await Assert.That((int)created.StatusCode).IsEqualTo(201);
        var id = System.Text.Json.Nodes.JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();

        foreach (var path in new[] { "/jobs", $"/jobs/{id}", $"/jobs/{id}/runs", "/metrics", "/stats/runs-per-minute" })
        {
            var answer = await Answer.Of(readClient.GetAsync(path));
            await Assert.That(answer.Status).IsEqualTo(200).Because($"GET {path}: {answer}");
        }
        var session = await Answer.Of(readClient.GetAsync("/ui/session"));
        await Assert.That(session.Json!["scope"]!.GetValue<string>()).IsEqualTo("read");
        var adminSession = await Answer.Of(adminClient.GetAsync("/ui/session"));
        await Assert.That(adminSession.Json!["scope"]!.GetValue<string>()).IsEqualTo("admin");

        (HttpMethod, string)[] writes =
        [
            (HttpMethod.Post, "/jobs"), (HttpMethod.Patch, $"/jobs/{id}"), (HttpMethod.Delete, $"/jobs/{id}"),
            (HttpMethod.Put, "/jobs/by-key/k"), (HttpMethod.Post, $"/jobs/{id}/run-now"), (HttpMethod.Post, $"/jobs/{id}/pause"),
        ];
        foreach (var (method, path) in writes)
        {
            var request = new HttpRequestMessage(method, path) { Content = KsanaServer.Json(JobDocs.Hourly()) };
            var answer = await Answer.Of(readClient.SendAsync(request));
            await Assert.That(answer.Status).IsEqualTo(403).Because($"{method} {path}: {answer}");
            await Assert.That(answer.ContentType).IsEqualTo("application/problem+json");
        }
        var job = await Answer.Of(adminClient.GetAsync($"/jobs/{id}"));
        await Assert.That(job.Json!["state"]!.GetValue<string>()).IsEqualTo("scheduled");
        await Assert.That((await Answer.Of(adminClient.DeleteAsync($"/jobs/{id}"))).Status).IsEqualTo(204);
    }

    [Test]
    public async Task A_wrong_key_still_gets_401_and_is_counted()
    {
        await using var ksana = await KsanaServer.StartAsync();
        using var wrong = new HttpClient { BaseAddress = ksana.Address };
        wrong.DefaultRequestHeaders.Add("X-API-Key", "nope");
        await Assert.That((await Answer.Of(wrong.GetAsync("/jobs"))).Status).IsEqualTo(401);
        await Assert.That((await Answer.Of(wrong.GetAsync("/metrics"))).Status).IsEqualTo(401);
        var metrics = await ksana.Client.GetStringAsync("/metrics");
        await Assert.That(metrics).Contains("ksana_auth_failures_total 2");
        var openapi = await Answer.Of(ksana.Anonymous.GetAsync("/openapi.json"));
        await Assert.That(openapi.Status).IsEqualTo(200);
    }

    [Test]
    public async Task Metrics_public_serves_metrics_without_a_key_and_nothing_else()
    {
        await using var ksana = await KsanaServer.StartAsync(s => s with { MetricsPublic = true });
        await Assert.That((await Answer.Of(ksana.Anonymous.GetAsync("/metrics"))).Status).IsEqualTo(200);
        await Assert.That((await Answer.Of(ksana.Anonymous.GetAsync("/jobs"))).Status).IsEqualTo(401);
    }
}
