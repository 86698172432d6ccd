using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ksana.Tests.EndToEnd;

/// <summary>The management API over real HTTP, with just enough helpers to keep tests readable.</summary>
public sealed class KsanaClient : IDisposable
{
    public HttpClient Http { get; }

    public KsanaClient(Uri baseAddress, string? key)
    {
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(15) };
        if (key is not null) Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("ApiKey", key);
    }

    public KsanaClient(KsanaProcess ksana, string? key) : this(ksana.BaseAddress, key) { }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = Json(json);
        var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, body, response);
    }

    /// <summary>Creates a job and returns it; anything but 201 fails with the server's answer.</summary>
    public async Task<JsonElement> CreateJobAsync(JsonObject job)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Post, "/jobs", job.ToJsonString());
        if (status != HttpStatusCode.Created)
            throw new InvalidOperationException($"POST /jobs answered {(int)status}: {body}");
        return body;
    }

    public async Task<JsonElement> GetJobAsync(string id)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get, $"/jobs/{id}");
        if (status != HttpStatusCode.OK)
            throw new InvalidOperationException($"GET /jobs/{id} answered {(int)status}: {body}");
        return body;
    }

    public async Task<JsonElement[]> GetRunsAsync(string id)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get, $"/jobs/{id}/runs");
        if (status != HttpStatusCode.OK)
            throw new InvalidOperationException($"GET /jobs/{id}/runs answered {(int)status}: {body}");
        return body.GetProperty("runs").EnumerateArray().ToArray();
    }

    /// <summary>Polls the job until <paramref name="done"/> holds; returns the last job seen either way.</summary>
    public async Task<JsonElement> WaitJobAsync(string id, Func<JsonElement, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var job = await GetJobAsync(id);
            if (done(job) || DateTime.UtcNow > deadline) return job;
            await Task.Delay(50);
        }
    }

    /// <summary>Every job, following next_cursor.</summary>
    public async Task<List<JsonElement>> ListAllJobsAsync()
    {
        var all = new List<JsonElement>();
        string? cursor = null;
        for (var page = 0; page < 100_000; page++)
        {
            var path = cursor is null ? "/jobs?limit=1000" : $"/jobs?limit=1000&cursor={Uri.EscapeDataString(cursor)}";
            var (status, body, _) = await SendAsync(HttpMethod.Get, path);
            if (status != HttpStatusCode.OK)
                throw new InvalidOperationException($"GET {path} answered {(int)status}: {body}");
            all.AddRange(body.GetProperty("jobs").EnumerateArray());
            var next = body.GetProperty("next_cursor");
            if (next.ValueKind == JsonValueKind.Null) return all;
            cursor = next.GetString();
        }
        throw new InvalidOperationException("GET /jobs never ended its pages");
    }

    public void Dispose() => Http.Dispose();
}

/// <summary>Job bodies as a client writes them.</summary>
public static class JobBodies
{
    /// <summary>A body that asks for every placeholder of SPEC §2, as the seed recommends callees receive.</summary>
    public const string PlaceholderBody =
        "{\"job_id\":\"{{job_id}}\",\"run_id\":\"{{run_id}}\",\"scheduled_at\":\"{{scheduled_at}}\",\"triggered_at\":\"{{triggered_at}}\",\"attempt\":{{attempt}}}";

    public static JsonObject Every(string name, string url, string every, string timeout = "10s", int maxRetries = 0) => new()
    {
        ["name"] = name,
        ["type"] = "http",
        ["http"] = new JsonObject
        {
            ["method"] = "POST",
            ["url"] = url,
            ["headers"] = new JsonObject { ["Content-Type"] = "application/json" },
            ["body"] = PlaceholderBody,
        },
        ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = every },
        ["timeout"] = timeout,
        ["max_retries"] = maxRetries,
        ["retry_backoff"] = "1s",
    };

    public static JsonObject Once(string name, string url, DateTimeOffset runAt, string timeout = "10s", int maxRetries = 0) => new()
    {
        ["name"] = name,
        ["type"] = "http",
        ["http"] = new JsonObject
        {
            ["method"] = "POST",
            ["url"] = url,
            ["headers"] = new JsonObject { ["Content-Type"] = "application/json" },
            ["body"] = PlaceholderBody,
        },
        ["schedule"] = new JsonObject { ["kind"] = "once", ["run_at"] = Rfc3339(runAt) },
        ["timeout"] = timeout,
        ["max_retries"] = maxRetries,
        ["retry_backoff"] = "1s",
    };

    public static string Rfc3339(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A whole second at least <paramref name="ahead"/> from now: run_at values that read well in failures.</summary>
    public static DateTimeOffset WholeSecondAfter(TimeSpan ahead)
    {
        var t = DateTimeOffset.UtcNow + ahead;
        return new DateTimeOffset(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero).AddSeconds(1);
    }

    public static DateTimeOffset Time(JsonElement e) =>
        DateTimeOffset.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
}
