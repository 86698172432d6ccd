using System.Text.Json.Nodes;

namespace Ksana.Tests.Integration;

/// <summary>A job document bent out of shape, and the JSON paths the 400 must name.</summary>
public sealed record BadJob(string Case, Action<JsonObject> Break, string[] Fields, string? MessageContains = null)
{
    public override string ToString() => Case;
}

/// <summary>Validation of POST /jobs (SPEC §2, §4): each class of bad field is a 400 naming its JSON path, and nothing is created.</summary>
public sealed class ValidationTests
{
    static JsonObject Valid() => new()
    {
        ["name"] = "valid",
        ["http"] = new JsonObject
        {
            ["method"] = "POST",
            ["url"] = "https://example.com/hook",
            ["headers"] = new JsonObject { ["Content-Type"] = "application/json" },
            ["body"] = "{}",
        },
        ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "5m" },
        ["timeout"] = "10s",
        ["max_retries"] = 3,
        ["retry_backoff"] = "5s",
    };

    static JsonObject Http(JsonObject job) => job["http"]!.AsObject();
    static JsonObject Schedule(JsonObject job) => job["schedule"]!.AsObject();

    public static IEnumerable<Func<BadJob>> Cases()
    {
        var past = Rfc3339.Format(DateTimeOffset.UtcNow.AddMinutes(-10));
        BadJob[] cases =
        [
            new("missing name", j => j.Remove("name"), ["name"]),
            new("empty name", j => j["name"] = "", ["name"]),
            new("name of 201 characters", j => j["name"] = new string('n', 201), ["name"]),
            new("name of 201 CJK characters", j => j["name"] = new string('字', 201), ["name"]),
            new("name not a string", j => j["name"] = 5, ["name"]),
            new("type other than http", j => j["type"] = "shell", ["type"]),
            new("method FETCH", j => Http(j)["method"] = "FETCH", ["http.method"]),
            new("missing http", j => j.Remove("http"), ["http"]),
            new("http not an object", j => j["http"] = "https://example.com", ["http"]),
            new("missing url", j => Http(j).Remove("url"), ["http.url"]),
            new("relative url", j => Http(j)["url"] = "/hook", ["http.url"]),
            new("ftp url", j => Http(j)["url"] = "ftp://example.com/file", ["http.url"]),
            new("X-Ksana header", j => Http(j)["headers"]!["X-Ksana-Run-Id"] = "mine", ["http.headers.X-Ksana-Run-Id"]),
            new("x-ksana header in lower case", j => Http(j)["headers"]!["x-ksana-attempt"] = "1", ["http.headers.x-ksana-attempt"]),
            new("header value a number", j => Http(j)["headers"]!["X-Count"] = 5, ["http.headers.X-Count"]),
            new("headers not an object", j => Http(j)["headers"] = new JsonArray("a"), ["http.headers"]),
            new("body not a string", j => Http(j)["body"] = new JsonObject { ["a"] = 1 }, ["http.body"]),
            new("every abc", j => Schedule(j)["every"] = "abc", ["schedule.every"]),
            new("every 0s", j => Schedule(j)["every"] = "0s", ["schedule.every"]),
            new("every -1s", j => Schedule(j)["every"] = "-1s", ["schedule.every"]),
            new("every 500ms (under 1s)", j => Schedule(j)["every"] = "500ms", ["schedule.every"]),
            new("every 999ms (under 1s)", j => Schedule(j)["every"] = "999ms", ["schedule.every"]),
            new("every missing", j => Schedule(j).Remove("every"), ["schedule.every"]),
            new("every a number", j => Schedule(j)["every"] = 300, ["schedule.every"]),
            new("kind hourly", j => j["schedule"] = new JsonObject { ["kind"] = "hourly" }, ["schedule.kind"]),
            new("missing schedule", j => j.Remove("schedule"), ["schedule"]),
            new("timeout abc", j => j["timeout"] = "abc", ["timeout"]),
            new("timeout 0s", j => j["timeout"] = "0s", ["timeout"]),
            new("timeout -1s", j => j["timeout"] = "-1s", ["timeout"]),
            // Too large to hold is out of range, not malformed: the answer says what the range is.
            new("every 99999999999h", j => Schedule(j)["every"] = "99999999999h", ["schedule.every"], "beyond the longest duration there is"),
            new("timeout 3000000h", j => j["timeout"] = "3000000h", ["timeout"], "must be from 1ms to 1h0m0s, not \\u00223000000h\\u0022"),
            new("timeout abc names the form", j => j["timeout"] = "abc", ["timeout"], "expected a Go duration"),
            new("retry_backoff abc", j => j["retry_backoff"] = "abc", ["retry_backoff"]),
            new("retry_backoff -1s", j => j["retry_backoff"] = "-1s", ["retry_backoff"]),
            new("retry_backoff 0s", j => j["retry_backoff"] = "0s", ["retry_backoff"]),
            new("max_retries 101", j => j["max_retries"] = 101, ["max_retries"]),
            new("max_retries -1", j => j["max_retries"] = -1, ["max_retries"]),
            new("max_retries \"3\" (a string)", j => j["max_retries"] = "3", ["max_retries"]),
            new("max_retries 1.5", j => j["max_retries"] = 1.5, ["max_retries"]),
            new("enabled \"yes\"", j => j["enabled"] = "yes", ["enabled"]),
            new("run_at in the past", j => j["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = past }, ["schedule.run_at"], "run_at is in the past"),
            new("run_at without an offset", j => j["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = "2099-01-01T00:00:00" }, ["schedule.run_at"]),
            new("run_at not a time", j => j["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = "tomorrow" }, ["schedule.run_at"]),
            new("run_at missing", j => j["schedule"] = new JsonObject { ["kind"] = "once" }, ["schedule.run_at"]),
            new("unknown top-level field max_retry", j => j["max_retry"] = 3, ["max_retry"]),
            new("unknown nested field http.metod", j => Http(j)["metod"] = "GET", ["http.metod"]),
            new("unknown nested field schedule.evry", j => Schedule(j)["evry"] = "5m", ["schedule.evry"]),
            new("body is an array", j => { }, ["$"]),
            new("several bad fields at once", j =>
            {
                j.Remove("name");
                Http(j)["method"] = "FETCH";
                Http(j)["url"] = "ftp://x";
                Schedule(j)["every"] = "0s";
                j["max_retries"] = 101;
                j["max_retry"] = 1;
            }, ["name", "http.method", "http.url", "schedule.every", "max_retries", "max_retry"]),
        ];
        return cases.Select(c => (Func<BadJob>)(() => c));
    }

    [Test]
    [MethodDataSource(nameof(Cases))]
    public async Task Bad_job_is_400_naming_the_field_and_creates_nothing(BadJob bad)
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = Valid();
        bad.Break(job);
        JsonNode body = bad.Case == "body is an array" ? new JsonArray(job) : job;

        var answer = await Answer.Of(ksana.PostAsync("/jobs", body));

        await Assert.That(answer.Status).IsEqualTo(400);
        await Assert.That(answer.ContentType).IsEqualTo("application/problem+json");
        var problem = answer.Json!.AsObject();
        await Assert.That(problem["status"]!.GetValue<int>()).IsEqualTo(400);
        await Assert.That(problem.ContainsKey("title")).IsTrue();
        await Assert.That(problem.ContainsKey("type")).IsTrue();
        foreach (var field in bad.Fields)
        {
            await Assert.That(answer.Errors.ContainsKey(field)).IsTrue().Because($"errors should name {field}: {answer.Body}");
            await Assert.That(answer.Errors[field]!.AsArray().Count).IsGreaterThan(0);
        }
        if (bad.MessageContains is { } text)
            await Assert.That(answer.Errors[bad.Fields[0]]!.ToJsonString()).Contains(text);
        // Nothing half-applied.
        var list = await ksana.GetJsonAsync("/jobs");
        await Assert.That(list["jobs"]!.AsArray().Count).IsEqualTo(0);
    }

    [Test]
    [Arguments("1s")]
    [Arguments("1m30s")]
    [Arguments("1.5h")]
    [Arguments("2h45m")]
    public async Task Boundary_and_compound_durations_are_accepted(string every)
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = Valid();
        job["schedule"]!["every"] = every;
        job["name"] = new string('字', 200);
        job["max_retries"] = 100;
        job["http"]!["method"] = "options";
        var created = await ksana.CreateJobAsync(job);
        await Assert.That(created["max_retries"]!.GetValue<int>()).IsEqualTo(100);
        await Assert.That(created["http"]!["method"]!.GetValue<string>()).IsEqualTo("OPTIONS");
    }

    [Test]
    public async Task Run_at_a_little_in_the_past_is_tolerated()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var job = Valid();
        job["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = Rfc3339.Format(DateTimeOffset.UtcNow.AddSeconds(-1)) };
        var answer = await Answer.Of(ksana.PostAsync("/jobs", job));
        await Assert.That(answer.Status).IsEqualTo(201).Because(answer.Body);
    }

    const string SeedEvery = """
        {
            "name": "ping-example",
            "enabled": true,
            "type": "http",
            "http": {
              "method": "GET",
              "url": "https://example.com/ping",
              "headers": {"Content-Type": "application/json"},
              "body": ""
            },
            "schedule": {"kind": "every", "every": "5m"},
            "timeout": "10s",
            "max_retries": 3,
            "retry_backoff": "5s"
          }
        """;

    const string SeedOnce = """
        {
            "name": "once-notify",
            "enabled": true,
            "type": "http",
            "http": {
              "method": "POST",
              "url": "https://api.example.com/notify",
              "headers": {"Content-Type": "application/json"},
              "body": "{\n  \"event\": \"build.done\",\n  \"payload\": {\"id\": 123}\n}"
            },
            "schedule": {"kind": "once", "run_at": "2025-09-20T03:00:00Z"},
            "timeout": "10s",
            "max_retries": 3,
            "retry_backoff": "5s"
          }
        """;

    [Test]
    public async Task The_seed_examples_create_their_jobs_with_the_Authorization_header()
    {
        await using var ksana = await KsanaServer.StartAsync();
        using var client = new HttpClient { BaseAddress = ksana.Address };
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"ApiKey {ksana.Key}");

        var every = await Answer.Of(client.PostAsync("/jobs", KsanaServer.Json(SeedEvery)));
        await Assert.That(every.Status).IsEqualTo(201).Because(every.Body);
        await Assert.That(every.Json!["schedule"]!["every"]!.GetValue<string>()).IsEqualTo("5m0s");

        // The seed's run_at (2025-09-20) has passed: verbatim it is the 400 of SPEC §2.
        var verbatim = await Answer.Of(client.PostAsync("/jobs", KsanaServer.Json(SeedOnce)));
        await Assert.That(verbatim.Status).IsEqualTo(400);
        await Assert.That(verbatim.Errors["schedule.run_at"]!.ToJsonString()).Contains("run_at is in the past");

        var future = await Answer.Of(client.PostAsync("/jobs", KsanaServer.Json(SeedOnce.Replace("2025-09-20T03:00:00Z", "2099-09-20T03:00:00Z"))));
        await Assert.That(future.Status).IsEqualTo(201).Because(future.Body);
        await Assert.That(future.Json!["http"]!["body"]!.GetValue<string>()).IsEqualTo("{\n  \"event\": \"build.done\",\n  \"payload\": {\"id\": 123}\n}");
        await Assert.That(future.Json!["schedule"]!["run_at"]!.GetValue<string>()).IsEqualTo("2099-09-20T03:00:00Z");

        var list = await Answer.Of(client.GetAsync("/jobs"));
        await Assert.That(list.Json!["jobs"]!.AsArray().Count).IsEqualTo(2);
        var id = future.Json!["id"]!.GetValue<string>();
        var patch = await Answer.Of(client.PatchAsync($"/jobs/{id}", KsanaServer.Json("""{"enabled": false}""")));
        await Assert.That(patch.Json!["state"]!.GetValue<string>()).IsEqualTo("paused");
    }
}
