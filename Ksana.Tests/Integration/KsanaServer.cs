using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Ksana.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Ksana.Tests.Integration;

/// <summary>
/// One Ksana server in this process, on its own loopback port and its own temporary data directory,
/// reached with a real HttpClient. Each test starts its own and disposes it, so tests run in parallel.
/// </summary>
public sealed class KsanaServer : IAsyncDisposable
{
    readonly WebApplication _app;
    bool _stopped;
    bool _handedOver;

    KsanaServer(WebApplication app, Settings settings, string dir, string? keysFile, string key, Uri address)
    {
        _app = app;
        Settings = settings;
        Dir = dir;
        KeysFile = keysFile;
        Key = key;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(20) };
        Client.DefaultRequestHeaders.Add("X-API-Key", key);
        Anonymous = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(20) };
    }

    public Settings Settings { get; }

    /// <summary>The temporary directory that holds the data directory and the keys file.</summary>
    public string Dir { get; }
    public string? KeysFile { get; }
    /// <summary>The key written to the keys file at start (random per server).</summary>
    public string Key { get; }
    public Uri Address { get; }
    /// <summary>The running server's services (fault injection: the journal, the table).</summary>
    public IServiceProvider Services => _app.Services;
    /// <summary>Sends the server's key in X-API-Key.</summary>
    public HttpClient Client { get; }
    /// <summary>Sends no key.</summary>
    public HttpClient Anonymous { get; }

    /// <summary>
    /// Starts a server. Defaults are the ones the API tests check against (10s timeout, 3 retries,
    /// 5s backoff); <paramref name="configure"/> changes any of them.
    /// <paramref name="keysFileContent"/>: null writes one fresh key; pass text to write that instead;
    /// <paramref name="withKeysFile"/> false starts without AUTH_KEYS_FILE.
    /// </summary>
    public static async Task<KsanaServer> StartAsync(
        Func<Settings, Settings>? configure = null, bool withKeysFile = true, string? keysFileContent = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "ksana-it-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var key = "key-" + Guid.NewGuid().ToString("N");
        string? keysFile = null;
        if (withKeysFile)
        {
            keysFile = Path.Combine(dir, "keys");
            await File.WriteAllTextAsync(keysFile, keysFileContent ?? $"# test keys\n{key}\n");
        }
        var settings = new Settings
        {
            Urls = "http://127.0.0.1:0",
            DataDir = Path.Combine(dir, "data"),
            AuthKeysFile = keysFile,
            LogLevel = LogLevel.Warning,
            DefaultTimeout = Duration.FromSeconds(10),
            MaxRetries = 3,
            RetryBackoff = Duration.FromSeconds(5),
        };
        if (configure is not null) settings = configure(settings);

        try
        {
            return await StartOnAsync(settings, dir, keysFile, key);
        }
        catch
        {
            TryDelete(dir);
            throw;
        }
    }

    static async Task<KsanaServer> StartOnAsync(Settings settings, string dir, string? keysFile, string key)
    {
        WebApplication? app = null;
        try
        {
            app = KsanaHost.Build(settings);
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new KsanaServer(app, settings, dir, keysFile, key, new Uri(address));
        }
        catch
        {
            if (app is not null) await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Stops this server the way SIGTERM does (drain, flush) and releases its data directory, but
    /// keeps the directory. Dispose still deletes it unless it was handed to a restarted server.
    /// </summary>
    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await _app.StopAsync(stop.Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }

    /// <summary>
    /// Stops this server (if still running) and starts a new one on the same data directory and
    /// keys file, on a new port. The new server owns the directory from then on.
    /// </summary>
    public async Task<KsanaServer> RestartAsync(Func<Settings, Settings>? configure = null)
    {
        await StopAsync();
        _handedOver = true;
        var settings = configure is null ? Settings : configure(Settings);
        return await StartOnAsync(settings, Dir, KeysFile, Key);
    }

    /// <summary>Builds a second server on this one's data directory; it is expected to refuse.</summary>
    public WebApplication BuildSecondInstance() => KsanaHost.Build(Settings);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Anonymous.Dispose();
        try
        {
            await StopAsync();
        }
        finally
        {
            if (!_handedOver) TryDelete(Dir);
        }
    }

    static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    // ---- HTTP helpers -------------------------------------------------------------------------

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static StringContent Json(JsonNode json) => Json(json.ToJsonString());

    public Task<HttpResponseMessage> PostAsync(string path, JsonNode json) => Client.PostAsync(path, Json(json));

    public Task<HttpResponseMessage> PostAsync(string path, string json) => Client.PostAsync(path, Json(json));

    public Task<HttpResponseMessage> PatchAsync(string path, string json) => Client.PatchAsync(path, Json(json));

    public Task<HttpResponseMessage> PostEmptyAsync(string path) => Client.PostAsync(path, null);

    /// <summary>Creates a job and returns its document; fails the test unless the answer is 201.</summary>
    public async Task<JsonObject> CreateJobAsync(JsonObject job)
    {
        using var response = await PostAsync("/jobs", job);
        var body = await response.Content.ReadAsStringAsync();
        if ((int)response.StatusCode != 201)
            throw new InvalidOperationException($"POST /jobs answered {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    public async Task<JsonObject> GetJsonAsync(string path)
    {
        using var response = await Client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"GET {path} answered {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    public async Task<JsonArray> RunsAsync(string jobId) => (await GetJsonAsync($"/jobs/{jobId}/runs"))["runs"]!.AsArray();

    /// <summary>POST /jobs/{id}/run-now; returns the run id (fails unless 202).</summary>
    public async Task<string> RunNowAsync(string jobId)
    {
        using var response = await PostEmptyAsync($"/jobs/{jobId}/run-now");
        var body = await response.Content.ReadAsStringAsync();
        if ((int)response.StatusCode != 202)
            throw new InvalidOperationException($"run-now answered {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["run_id"]!.GetValue<string>();
    }

    /// <summary>Polls the job's runs until the run is finished (not running or retrying).</summary>
    public async Task<JsonObject> WaitForRunAsync(string jobId, string runId, TimeSpan? timeout = null)
    {
        JsonObject? last = null;
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            foreach (var run in await RunsAsync(jobId))
                if (run!["run_id"]!.GetValue<string>() == runId)
                {
                    last = run.AsObject();
                    if (last["status"]!.GetValue<string>() is not ("running" or "retrying")) return last;
                }
            await Task.Delay(20);
        }
        throw new TimeoutException($"run {runId} did not finish in time; last seen: {last?.ToJsonString() ?? "(not listed)"}");
    }
}

/// <summary>A response read once: status, headers, body text and (when JSON) the parsed body.</summary>
public sealed record Answer(int Status, string? ContentType, HttpResponseHeaders Headers, string Body)
{
    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);

    public JsonObject Errors => Json?["errors"]?.AsObject() ?? new JsonObject();

    public static async Task<Answer> Of(Task<HttpResponseMessage> send)
    {
        using var response = await send;
        return new Answer((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, response.Headers,
            await response.Content.ReadAsStringAsync());
    }

    public override string ToString() => $"{Status} {ContentType}: {Body}";
}

/// <summary>Jobs the tests send, as JSON nodes so that they can be bent out of shape.</summary>
public static class JobDocs
{
    /// <summary>An hourly job pointing at an address nothing listens on: it never fires during a test.</summary>
    public static JsonObject Hourly(string name = "job") => new()
    {
        ["name"] = name,
        ["http"] = new JsonObject { ["method"] = "POST", ["url"] = "http://127.0.0.1:9/never" },
        ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1h" },
    };

    /// <summary>An hourly job that calls <paramref name="url"/> when run now.</summary>
    public static JsonObject Calling(string url, string method = "POST", int maxRetries = 0, string backoff = "50ms", string timeout = "2s") => new()
    {
        ["name"] = "delivery",
        ["http"] = new JsonObject { ["method"] = method, ["url"] = url },
        ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1h" },
        ["timeout"] = timeout,
        ["max_retries"] = maxRetries,
        ["retry_backoff"] = backoff,
    };
}

public static class Poll
{
    /// <summary>Polls <paramref name="probe"/> until it returns true or the deadline passes.</summary>
    public static async Task<bool> Until(Func<Task<bool>> probe, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        do
        {
            if (await probe()) return true;
            await Task.Delay(20);
        } while (DateTime.UtcNow < deadline);
        return await probe();
    }

    public static Task<bool> Until(Func<bool> probe, TimeSpan timeout) => Until(() => Task.FromResult(probe()), timeout);
}
