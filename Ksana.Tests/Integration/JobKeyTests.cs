using System.Text.Json.Nodes;
using Ksana.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Ksana.Tests.Integration;

/// <summary>Job keys (SPEC §2, §4): GET and PUT /jobs/by-key/{key}, and keys unique among jobs.</summary>
public sealed class JobKeyTests
{
    static Task<Answer> Put(KsanaServer ksana, string key, JsonNode body) =>
        Answer.Of(ksana.Client.PutAsync($"/jobs/by-key/{key}", KsanaServer.Json(body)));

    [Test]
    public async Task Put_creates_then_replaces_and_an_unchanged_body_writes_nothing()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var created = await Put(ksana, "nightly.report", JobDocs.Hourly("report"));
        await Assert.That(created.Status).IsEqualTo(201).Because(created.ToString());
        var id = created.Json!["id"]!.GetValue<string>();
        await Assert.That(created.Headers.Location!.ToString()).IsEqualTo($"/jobs/{id}");
        await Assert.That(created.Json!["key"]!.GetValue<string>()).IsEqualTo("nightly.report");

        var journal = ksana.Services.GetRequiredService<DataDir>().Journal;
        await journal.FlushAsync();
        var length = journal.FileLength;
        var again = await Put(ksana, "nightly.report", JobDocs.Hourly("report"));
        await Assert.That(again.Status).IsEqualTo(200).Because(again.ToString());
        await Assert.That(again.Json!["id"]!.GetValue<string>()).IsEqualTo(id);
        await Assert.That(again.Json!["updated_at"]!.GetValue<string>()).IsEqualTo(created.Json!["updated_at"]!.GetValue<string>());
        await journal.FlushAsync();
        await Assert.That(journal.FileLength).IsEqualTo(length).Because("an unchanged body writes no journal line");

        var changed = JobDocs.Hourly("report v2");
        changed["key"] = "nightly.report";
        changed["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "30m" };
        var replaced = await Put(ksana, "nightly.report", changed);
        await Assert.That(replaced.Status).IsEqualTo(200).Because(replaced.ToString());
        await Assert.That(replaced.Json!["name"]!.GetValue<string>()).IsEqualTo("report v2");
        await Assert.That(replaced.Json!["schedule"]!["every"]!.GetValue<string>()).IsEqualTo("30m0s");
        await Assert.That(replaced.Json!["id"]!.GetValue<string>()).IsEqualTo(id);

        var byKey = await Answer.Of(ksana.Client.GetAsync("/jobs/by-key/nightly.report"));
        await Assert.That(byKey.Status).IsEqualTo(200);
        await Assert.That(byKey.Json!["name"]!.GetValue<string>()).IsEqualTo("report v2");
        var list = await ksana.GetJsonAsync("/jobs");
        await Assert.That(list["jobs"]!.AsArray().Count).IsEqualTo(1);
    }

    [Test]
    public async Task Put_refuses_a_body_key_that_differs_and_a_bad_path_key()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var body = JobDocs.Hourly();
        body["key"] = "other";
        var differs = await Put(ksana, "mine", body);
        await Assert.That(differs.Status).IsEqualTo(400).Because(differs.ToString());
        await Assert.That(differs.Errors.ContainsKey("key")).IsTrue();
        var bad = await Put(ksana, "no%20spaces", JobDocs.Hourly());
        await Assert.That(bad.Status).IsEqualTo(400).Because(bad.ToString());
        var missing = await Answer.Of(ksana.Client.GetAsync("/jobs/by-key/nobody"));
        await Assert.That(missing.Status).IsEqualTo(404);
        var invalid = await Answer.Of(ksana.Client.GetAsync("/jobs/by-key/no%20spaces"));
        await Assert.That(invalid.Status).IsEqualTo(404);
    }

    [Test]
    public async Task A_key_is_unique_for_post_and_patch()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var first = JobDocs.Hourly("a");
        first["key"] = "shared";
        await ksana.CreateJobAsync(first);
        var second = JobDocs.Hourly("b");
        second["key"] = "shared";
        var duplicate = await Answer.Of(ksana.PostAsync("/jobs", second));
        await Assert.That(duplicate.Status).IsEqualTo(409).Because(duplicate.ToString());
        await Assert.That(duplicate.ContentType).IsEqualTo("application/problem+json");

        var other = await ksana.CreateJobAsync(JobDocs.Hourly("c"));
        var patch = await Answer.Of(ksana.PatchAsync($"/jobs/{other["id"]}", """{"key":"shared"}"""));
        await Assert.That(patch.Status).IsEqualTo(409).Because(patch.ToString());
        var free = await Answer.Of(ksana.PatchAsync($"/jobs/{other["id"]}", """{"key":"free"}"""));
        await Assert.That(free.Status).IsEqualTo(200).Because(free.ToString());
        await Assert.That((await Answer.Of(ksana.Client.GetAsync("/jobs/by-key/free"))).Json!["id"]!.GetValue<string>())
            .IsEqualTo(other["id"]!.GetValue<string>());
        await Assert.That((await Answer.Of(ksana.Client.DeleteAsync($"/jobs/{other["id"]}"))).Status).IsEqualTo(204);
        await Assert.That((await Answer.Of(ksana.Client.GetAsync("/jobs/by-key/free"))).Status).IsEqualTo(404);
    }

    [Test]
    public async Task Sixteen_clients_racing_to_put_one_key_end_with_one_job()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Put(ksana, "race", JobDocs.Hourly("racer"))));
        foreach (var answer in answers) await Assert.That(answer.Status).IsIn([200, 201]).Because(answer.ToString());
        await Assert.That(answers.Count(a => a.Status == 201)).IsEqualTo(1);
        await Assert.That(answers.Select(a => a.Json!["id"]!.GetValue<string>()).Distinct().Count()).IsEqualTo(1);
        var list = await ksana.GetJsonAsync("/jobs");
        await Assert.That(list["jobs"]!.AsArray().Count).IsEqualTo(1);
    }

    [Test]
    public async Task Keys_survive_a_restart()
    {
        var ksana = await KsanaServer.StartAsync();
        await using var _ = ksana;
        var created = await Put(ksana, "kept", JobDocs.Hourly());
        await using var restarted = await ksana.RestartAsync();
        var found = await Answer.Of(restarted.Client.GetAsync("/jobs/by-key/kept"));
        await Assert.That(found.Status).IsEqualTo(200);
        await Assert.That(found.Json!["id"]!.GetValue<string>()).IsEqualTo(created.Json!["id"]!.GetValue<string>());
        var again = await Answer.Of(restarted.PostAsync("/jobs", new JsonObject { ["name"] = "x", ["key"] = "kept",
            ["http"] = new JsonObject { ["method"] = "GET", ["url"] = "http://127.0.0.1:9/" },
            ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1h" } }));
        await Assert.That(again.Status).IsEqualTo(409);
    }
}
