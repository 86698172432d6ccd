using System.Globalization;
using System.Text.Json.Nodes;

namespace Ksana.Tests.Support;

/// <summary>Jobs the tests send, as JSON nodes so that they can be bent out of shape.</summary>
public static class JobDocs
{
    /// <summary>A body that asks for every placeholder of SPEC §2, as the seed recommends callees receive.</summary>
    public const string PlaceholderBody =
        "{\"job_id\":\"{{job_id}}\",\"run_id\":\"{{run_id}}\",\"scheduled_at\":\"{{scheduled_at}}\",\"triggered_at\":\"{{triggered_at}}\",\"attempt\":{{attempt}}}";

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

    /// <summary>A job on a fixed grid that posts <see cref="PlaceholderBody"/> to <paramref name="url"/>.</summary>
    public static JsonObject Every(string name, string url, string every, string timeout = "10s", int maxRetries = 0) =>
        Posting(name, url, new JsonObject { ["kind"] = "every", ["every"] = every }, timeout, maxRetries);

    /// <summary>A once job at <paramref name="runAt"/> that posts <see cref="PlaceholderBody"/> to <paramref name="url"/>.</summary>
    public static JsonObject Once(string name, string url, DateTimeOffset runAt, string timeout = "10s", int maxRetries = 0) =>
        Posting(name, url, new JsonObject { ["kind"] = "once", ["run_at"] = Rfc3339.Format(runAt) }, timeout, maxRetries);

    static JsonObject Posting(string name, string url, JsonObject schedule, string timeout, int maxRetries) => new()
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
        ["schedule"] = schedule,
        ["timeout"] = timeout,
        ["max_retries"] = maxRetries,
        ["retry_backoff"] = "1s",
    };

    /// <summary>A whole second at least <paramref name="ahead"/> from now: run_at values that read well in failures.</summary>
    public static DateTimeOffset WholeSecondAfter(TimeSpan ahead)
    {
        var t = DateTimeOffset.UtcNow + ahead;
        return new DateTimeOffset(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero).AddSeconds(1);
    }

    /// <summary>A time the API wrote (RFC 3339).</summary>
    public static DateTimeOffset Time(JsonNode? node) =>
        DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public static string Id(JsonNode job) => job["id"]!.GetValue<string>();
}
