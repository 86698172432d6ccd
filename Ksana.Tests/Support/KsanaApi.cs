using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Ksana.Tests.Support;

/// <summary>
/// The management API over real HTTP, with just enough helpers to keep tests readable. Both the
/// in-process <see cref="KsanaServer"/> (which is one) and the published binary
/// (<see cref="KsanaProcess.Api"/>) hand it out.
/// </summary>
public class KsanaApi : IDisposable
{
    /// <param name="key">Sent in X-API-Key; null sends no key.</param>
    public KsanaApi(Uri baseAddress, string? key)
    {
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(20) };
        if (key is not null) Client.DefaultRequestHeaders.Add("X-API-Key", key);
    }

    public HttpClient Client { get; }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static StringContent Json(JsonNode json) => Json(json.ToJsonString());

    public Task<HttpResponseMessage> PostAsync(string path, JsonNode json) => Client.PostAsync(path, Json(json));

    public Task<HttpResponseMessage> PostAsync(string path, string json) => Client.PostAsync(path, Json(json));

    public Task<HttpResponseMessage> PatchAsync(string path, string json) => Client.PatchAsync(path, Json(json));

    public Task<HttpResponseMessage> PostEmptyAsync(string path) => Client.PostAsync(path, null);

    /// <summary>Sends one request (a JSON body when given) and reads the answer whole.</summary>
    public Task<Answer> SendAsync(HttpMethod method, string path, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = Json(json);
        return Answer.Of(Client.SendAsync(request));
    }

    /// <summary>Creates a job and returns its document; fails the test unless the answer is 201.</summary>
    public async Task<JsonObject> CreateJobAsync(JsonObject job)
    {
        var answer = await Answer.Of(PostAsync("/jobs", job));
        if (answer.Status != 201) throw new InvalidOperationException($"POST /jobs answered {answer}");
        return answer.Json!.AsObject();
    }

    public async Task<JsonObject> GetJsonAsync(string path)
    {
        var answer = await Answer.Of(Client.GetAsync(path));
        if (answer.Status is < 200 or > 299) throw new InvalidOperationException($"GET {path} answered {answer}");
        return answer.Json!.AsObject();
    }

    public Task<JsonObject> GetJobAsync(string jobId) => GetJsonAsync($"/jobs/{jobId}");

    public async Task<JsonArray> RunsAsync(string jobId) => (await GetJsonAsync($"/jobs/{jobId}/runs"))["runs"]!.AsArray();

    /// <summary>POST /jobs/{id}/run-now; returns the run id (fails unless 202).</summary>
    public async Task<string> RunNowAsync(string jobId)
    {
        var answer = await Answer.Of(PostEmptyAsync($"/jobs/{jobId}/run-now"));
        if (answer.Status != 202) throw new InvalidOperationException($"run-now answered {answer}");
        return answer.Json!["run_id"]!.GetValue<string>();
    }

    /// <summary>Polls the job's runs until the run is finished (not running or retrying).</summary>
    public async Task<JsonObject> WaitForRunAsync(string jobId, string runId, TimeSpan? timeout = null)
    {
        JsonObject? last = null;
        var finished = await Poll.Until(async () =>
        {
            last = (await RunsAsync(jobId)).FirstOrDefault(r => r!["run_id"]!.GetValue<string>() == runId)?.AsObject() ?? last;
            return last?["status"]!.GetValue<string>() is { } status && status is not ("running" or "retrying");
        }, timeout ?? TimeSpan.FromSeconds(10));
        return finished ? last! : throw new TimeoutException($"run {runId} did not finish in time; last seen: {last?.ToJsonString() ?? "(not listed)"}");
    }

    /// <summary>Polls the job until <paramref name="done"/> holds; returns the last job seen either way.</summary>
    public async Task<JsonObject> WaitJobAsync(string jobId, Func<JsonObject, bool> done, TimeSpan timeout)
    {
        JsonObject job = null!;
        await Poll.Until(async () => done(job = await GetJsonAsync($"/jobs/{jobId}")), timeout);
        return job;
    }

    /// <summary>Every job, following next_cursor.</summary>
    public async Task<List<JsonObject>> ListAllJobsAsync()
    {
        var all = new List<JsonObject>();
        string? cursor = null;
        for (var page = 0; page < 100_000; page++)
        {
            var body = await GetJsonAsync(cursor is null ? "/jobs?limit=1000" : $"/jobs?limit=1000&cursor={Uri.EscapeDataString(cursor)}");
            all.AddRange(body["jobs"]!.AsArray().Select(j => j!.AsObject()));
            cursor = body["next_cursor"]?.GetValue<string>();
            if (cursor is null) return all;
        }
        throw new InvalidOperationException("GET /jobs never ended its pages");
    }

    public virtual void Dispose() => Client.Dispose();
}

/// <summary>A response read once: status, headers, body text and (when JSON) the parsed body.</summary>
public sealed record Answer(int Status, string? ContentType, HttpResponseHeaders Headers, string Body)
{
    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);

    public void Deconstruct(out int status, out JsonNode? json, out HttpResponseHeaders headers) =>
        (status, json, headers) = (Status, Json, Headers);

    public JsonObject Errors => Json?["errors"]?.AsObject() ?? new JsonObject();

    public static async Task<Answer> Of(Task<HttpResponseMessage> send)
    {
        using var response = await send;
        return new Answer((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, response.Headers,
            await response.Content.ReadAsStringAsync());
    }

    public override string ToString() => $"{Status} {ContentType}: {Body}";
}

public static class Poll
{
    /// <summary>
    /// Polls <paramref name="probe"/> (real time) until it returns true or the deadline passes, every
    /// <paramref name="every"/> (20 ms unless given: a probe that fails authentication must go slower,
    /// or the failed-auth throttle of SPEC §10 answers it with 429).
    /// </summary>
    public static async Task<bool> Until(Func<Task<bool>> probe, TimeSpan timeout, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        do
        {
            if (await probe()) return true;
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(20));
        } while (DateTime.UtcNow < deadline);
        return await probe();
    }

    public static Task<bool> Until(Func<bool> probe, TimeSpan timeout) => Until(() => Task.FromResult(probe()), timeout);
}
