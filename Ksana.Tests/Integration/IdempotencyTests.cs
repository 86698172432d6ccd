using System.Text.Json.Nodes;
using Ksana.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Ksana.Tests.Integration;

/// <summary>Idempotency-Key (SPEC §4): a retried POST gets the first answer again and changes nothing.</summary>
public sealed class IdempotencyTests
{
    static Task<Answer> Post(KsanaServer ksana, string path, JsonNode? body, string key, HttpClient? client = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body is null ? null : KsanaServer.Json(body) };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return Answer.Of((client ?? ksana.Client).SendAsync(request));
    }

    static async Task<int> JobCount(KsanaServer ksana) => (await ksana.GetJsonAsync("/jobs"))["jobs"]!.AsArray().Count;

    [Test]
    public async Task A_repeat_gets_the_first_answer_and_creates_nothing()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var first = await Post(ksana, "/jobs", JobDocs.Hourly(), "create-1");
        await Assert.That(first.Status).IsEqualTo(201).Because(first.ToString());
        await Assert.That(first.Headers.Contains("Idempotent-Replayed")).IsFalse();
        var repeat = await Post(ksana, "/jobs", JobDocs.Hourly(), "create-1");
        await Assert.That(repeat.Status).IsEqualTo(201);
        await Assert.That(repeat.Body).IsEqualTo(first.Body);
        await Assert.That(repeat.Headers.Location).IsEqualTo(first.Headers.Location);
        await Assert.That(repeat.Headers.GetValues("Idempotent-Replayed").Single()).IsEqualTo("true");
        await Assert.That(await JobCount(ksana)).IsEqualTo(1);

        // Another API key has its own keys.
        var other = "other-" + Guid.NewGuid().ToString("N");
        await File.AppendAllTextAsync(ksana.KeysFile!, other + "\n");
        using var otherClient = new HttpClient { BaseAddress = ksana.Address };
        otherClient.DefaultRequestHeaders.Add("X-API-Key", other);
        await Assert.That(await Poll.Until(async () => (await Answer.Of(otherClient.GetAsync("/jobs"))).Status == 200, TimeSpan.FromSeconds(5))).IsTrue();
        var theirs = await Post(ksana, "/jobs", JobDocs.Hourly(), "create-1", otherClient);
        await Assert.That(theirs.Status).IsEqualTo(201);
        await Assert.That(theirs.Headers.Contains("Idempotent-Replayed")).IsFalse();
        await Assert.That(await JobCount(ksana)).IsEqualTo(2);
    }

    [Test]
    public async Task The_same_key_for_a_different_request_is_422_and_a_bad_key_is_400()
    {
        await using var ksana = await KsanaServer.StartAsync();
        await Assert.That((await Post(ksana, "/jobs", JobDocs.Hourly("a"), "k")).Status).IsEqualTo(201);
        var different = await Post(ksana, "/jobs", JobDocs.Hourly("b"), "k");
        await Assert.That(different.Status).IsEqualTo(422).Because(different.ToString());
        await Assert.That(different.ContentType).IsEqualTo("application/problem+json");
        var tooLong = await Post(ksana, "/jobs", JobDocs.Hourly("b"), new string('x', 256));
        await Assert.That(tooLong.Status).IsEqualTo(400);
        await Assert.That(await JobCount(ksana)).IsEqualTo(1);
    }

    [Test]
    public async Task A_failed_answer_is_not_remembered()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var invalid = await Post(ksana, "/jobs", new JsonObject { ["name"] = "" }, "fix-me");
        await Assert.That(invalid.Status).IsEqualTo(400);
        var invalidAgain = await Post(ksana, "/jobs", new JsonObject { ["name"] = "" }, "fix-me");
        await Assert.That(invalidAgain.Headers.Contains("Idempotent-Replayed")).IsFalse();
    }

    [Test]
    public async Task A_repeat_while_the_first_is_being_answered_is_409()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var journal = ksana.Services.GetRequiredService<DataDir>().Journal;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        // Hold the journal's writer: the first request waits for its change to be durable.
        journal.BeforeWrite = () =>
        {
            entered.Set();
            release.Wait(TimeSpan.FromSeconds(20));
        };
        var first = Post(ksana, "/jobs", JobDocs.Hourly(), "slow");
        await Assert.That(await Task.Run(() => entered.Wait(TimeSpan.FromSeconds(10)))).IsTrue();
        var during = await Post(ksana, "/jobs", JobDocs.Hourly(), "slow");
        journal.BeforeWrite = null;
        release.Set();
        await Assert.That(during.Status).IsEqualTo(409).Because(during.ToString());
        await Assert.That((await first).Status).IsEqualTo(201);
        var after = await Post(ksana, "/jobs", JobDocs.Hourly(), "slow");
        await Assert.That(after.Status).IsEqualTo(201);
        await Assert.That(after.Headers.Contains("Idempotent-Replayed")).IsTrue();
        await Assert.That(await JobCount(ksana)).IsEqualTo(1);
    }

    [Test]
    public async Task Sixteen_concurrent_retries_create_one_job()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Post(ksana, "/jobs", JobDocs.Hourly(), "burst")));
        foreach (var answer in answers) await Assert.That(answer.Status).IsIn([201, 409]).Because(answer.ToString());
        await Assert.That(answers.Count(a => a.Status == 201 && !a.Headers.Contains("Idempotent-Replayed"))).IsEqualTo(1);
        await Assert.That(await JobCount(ksana)).IsEqualTo(1);
    }

    [Test]
    public async Task Remembered_across_restarts_and_compaction()
    {
        var ksana = await KsanaServer.StartAsync();
        var job = await ksana.CreateJobAsync(JobDocs.Hourly());
        var created = await Post(ksana, "/jobs", JobDocs.Hourly("once"), "across");
        await Assert.That(created.Status).IsEqualTo(201);
        var started = await Post(ksana, $"/jobs/{job["id"]}/run-now", null, "run-once");
        await Assert.That(started.Status).IsEqualTo(202);

        var restarted = await ksana.RestartAsync();
        // The start-up compaction rewrites the journal from the snapshot, answers included.
        var journal = restarted.Services.GetRequiredService<DataDir>().Journal;
        await Assert.That(await Poll.Until(() => journal.Compactions > 0, TimeSpan.FromSeconds(10))).IsTrue();
        await using var again = await restarted.RestartAsync();

        var repeat = await Post(again, "/jobs", JobDocs.Hourly("once"), "across");
        await Assert.That(repeat.Status).IsEqualTo(201);
        await Assert.That(repeat.Body).IsEqualTo(created.Body);
        await Assert.That(repeat.Headers.GetValues("Idempotent-Replayed").Single()).IsEqualTo("true");
        var rerun = await Post(again, $"/jobs/{job["id"]}/run-now", null, "run-once");
        await Assert.That(rerun.Status).IsEqualTo(202);
        await Assert.That(rerun.Body).IsEqualTo(started.Body);
        await Assert.That(await JobCount(again)).IsEqualTo(2);
        await Assert.That((await again.RunsAsync(job["id"]!.GetValue<string>())).Count).IsEqualTo(1);
    }
}
