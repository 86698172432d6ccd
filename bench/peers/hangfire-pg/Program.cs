// Hangfire.PostgreSql peer for Ksana's comparison benchmarks (see README.md): the ../hangfire peer
// with its state in PostgreSQL (one schema per DATA_DIR), so a create is committed before its 201.
// Each POST /jobs registers one recurring job whose cron has a seconds field ("* * * * * *" for
// every 1 s); Hangfire's RecurringJobScheduler enqueues a background job per occurrence and the
// server's workers run Hook.Get on it.
using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;
using Hangfire;
using Hangfire.PostgreSql;
using Npgsql;

var port = int.Parse(Environment.GetEnvironmentVariable("PORT") ?? "18102", CultureInfo.InvariantCulture);
var maxConcurrency = int.Parse(Environment.GetEnvironmentVariable("MAX_CONCURRENCY") ?? "64", CultureInfo.InvariantCulture);
// SchedulePollingInterval, which also paces the recurring job scheduler: 1 s here (Hangfire's
// default, 15 s, cannot keep an every-second job; the in-memory peer is run both ways).
var pollMs = Environment.GetEnvironmentVariable("HANGFIRE_POLL_MS") is { Length: > 0 } pm ? pm : "1000";
// Hangfire.PostgreSql's QueuePollInterval (its default is 15 s); with EnableLongPolling a worker is
// also woken by NOTIFY when a job is enqueued, so this is only the fallback.
var queuePollMs = int.Parse(Environment.GetEnvironmentVariable("HANGFIRE_QUEUE_POLL_MS") ?? "1000", CultureInfo.InvariantCulture);
var dataDir = Environment.GetEnvironmentVariable("DATA_DIR") ?? Path.GetFullPath("data");
Directory.CreateDirectory(dataDir);
var (connectionString, schema) = Pg.Prepare(dataDir);

Hook.Init(maxConcurrency);

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJson.Default));

builder.Services.AddHangfire(c => c
    .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
    .UseSimpleAssemblyNameTypeSerializer()
    .UseRecommendedSerializerSettings()
    .UsePostgreSqlStorage(o => o.UseNpgsqlConnection(connectionString), new PostgreSqlStorageOptions
    {
        SchemaName = schema,
        PrepareSchemaIfNecessary = true,     // Hangfire.PostgreSql creates its own tables in the schema
        QueuePollInterval = TimeSpan.FromMilliseconds(queuePollMs),
        EnableLongPolling = true,            // LISTEN/NOTIFY wakes a worker when a job is enqueued
    }));
builder.Services.AddHangfireServer(o =>
{
    o.WorkerCount = maxConcurrency;
    o.SchedulePollingInterval = TimeSpan.FromMilliseconds(int.Parse(pollMs, CultureInfo.InvariantCulture));
});

var app = builder.Build();
var started = false;
app.Lifetime.ApplicationStarted.Register(() => started = true);

app.MapGet("/health", (JobStorage storage) =>
    started && storage.GetMonitoringApi().Servers().Count > 0
        ? Results.Json(new Status("ok"), AppJson.Default.Status)
        : Results.Json(new Status("starting"), AppJson.Default.Status, statusCode: 503));

// A cron occurrence is a whole second, and firings happen when the scheduler polls: no sub-second phase.
app.MapGet("/capabilities", () => Results.Json(new Capabilities(false), AppJson.Default.Capabilities));

// Ids must stay unique across restarts on the same schema: a process prefix and a counter.
var idPrefix = Guid.NewGuid().ToString("N")[..8];
long nextId = 0;
app.MapPost("/jobs", (JobRequest req, IRecurringJobManager recurring) =>
{
    if (req.Type != "http" || req.Http?.Url is not { } url || req.Schedule is not { Kind: "every" } sch
        || CronFor(sch.Every, sch.StartAt) is not { } cron)
        return Results.BadRequest();

    var id = idPrefix + "-" + Interlocked.Increment(ref nextId).ToString(CultureInfo.InvariantCulture);
    // A recurring job has no start time: runs before start_at's whole second are skipped by the job.
    var notBefore = sch.StartAt is { } s ? s.ToUnixTimeSeconds() * 1000 : 0L;
    // Default misfire handling (Relaxed): occurrences missed between two polls give one run.
    // Written in one transaction, committed (synchronous_commit on) before this returns.
    recurring.AddOrUpdate(id, () => Hook.Get(url, notBefore), cron, new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
    return Results.Json(new Created(id), AppJson.Default.Created, statusCode: 201);
});

// For the kill -9 check: every recurring job (one page), and one by id.
app.MapGet("/jobs", (JobStorage storage) =>
{
    using var c = storage.GetConnection();
    var ids = c.GetAllItemsFromSet("recurring-jobs");
    return Results.Json(new JobList([.. ids.Select(i => new Created(i))], null), AppJson.Default.JobList);
});
app.MapGet("/jobs/{id}", (string id, JobStorage storage) =>
{
    using var c = storage.GetConnection();
    return c.GetAllEntriesFromHash("recurring-job:" + id) is { Count: > 0 }
        ? Results.Json(new Created(id), AppJson.Default.Created) : Results.NotFound();
});

app.Run();

// Cron (6 fields, with seconds) for "every N s" on the grid of start_at (default now + N):
// N dividing 60 → seconds field ("* * * * * *" for 1 s, "3-59/5 * * * * *" for 5 s),
// N = m minutes with m dividing 60, or h hours with h dividing 24 (e.g. 3600 s). Else null (400).
static string? CronFor(string? every, DateTimeOffset? startAt)
{
    if (every is not { Length: > 1 } || every[^1] != 's'
        || !int.TryParse(every.AsSpan(0, every.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
        || n < 1)
        return null;
    var t = (startAt ?? DateTimeOffset.UtcNow.AddSeconds(n)).ToUnixTimeSeconds();
    static string Step(long v, int step, int max) =>
        step == 1 ? "*" : step == max + 1 ? $"{v % step}" : $"{v % step}-{max}/{step}";
    if (60 % n == 0) return $"{Step(t, n, 59)} * * * * *";
    if (n % 60 == 0 && 60 % (n / 60) == 0) return $"{t % 60} {Step(t / 60, n / 60, 59)} * * * *";
    if (n % 3600 == 0 && 24 % (n / 3600) == 0) return $"{t % 60} {t / 60 % 60} {Step(t / 3600, n / 3600, 23)} * * *";
    return null;
}

/// <summary>One PostgreSQL schema per DATA_DIR (its name kept in DATA_DIR/pg-schema).</summary>
static class Pg
{
    static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;

    public static (string ConnectionString, string Schema) Prepare(string dataDir)
    {
        var cs = new NpgsqlConnectionStringBuilder
        {
            Host = Env("BENCH_PG_HOST", "127.0.0.1"),
            Port = int.Parse(Env("BENCH_PG_PORT", "5432"), CultureInfo.InvariantCulture),
            Username = Env("BENCH_PG_USER", "bench"),
            Database = Env("BENCH_PG_DB", "bench"),
        }.ConnectionString;
        var marker = Path.Combine(dataDir, "pg-schema");
        if (File.Exists(marker)) return (cs, File.ReadAllText(marker).Trim());
        var schema = "hangfire_" + Guid.NewGuid().ToString("N")[..12];
        using (var c = new NpgsqlConnection(cs))
        {
            c.Open();
            using var cmd = new NpgsqlCommand("SHOW synchronous_commit", c);
            var sync = cmd.ExecuteScalar() as string;
            if (sync != "on") throw new InvalidOperationException($"synchronous_commit is {sync}, not on");
        }
        File.WriteAllText(marker, schema);
        return (cs, schema);
    }
}

public static class Hook
{
    static HttpClient? http;
    static SemaphoreSlim? gate;
    public static void Init(int maxConcurrency)
    {
        http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxConcurrency,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
            AllowAutoRedirect = false,
        })
        { Timeout = TimeSpan.FromSeconds(10) };
        gate = new SemaphoreSlim(maxConcurrency, maxConcurrency);
    }

    // No retries (max_retries 0): the global AutomaticRetry filter would retry 10 times.
    [AutomaticRetry(Attempts = 0, LogEvents = false)]
    public static async Task Get(string url, long notBeforeUnixMs)
    {
        if (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() < notBeforeUnixMs) return;
        await gate!.WaitAsync();
        try
        {
            using var resp = await http!.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        }
        catch (Exception)
        {
            // a failed or timed-out call is lost, as with max_retries 0
        }
        finally { gate.Release(); }
    }
}

record Status(string status);
record Capabilities(bool spread);
record Created(string id);
record JobList(List<Created> jobs, string? next_cursor);
record HttpSpec(string? Method, string? Url);
record ScheduleSpec(string? Kind, string? Every, [property: JsonPropertyName("start_at")] DateTimeOffset? StartAt);
record JobRequest(string? Name, string? Type, HttpSpec? Http, ScheduleSpec? Schedule,
    [property: JsonPropertyName("max_retries")] int? MaxRetries, string? Timeout);

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(JobRequest))]
[JsonSerializable(typeof(Status))]
[JsonSerializable(typeof(Capabilities))]
[JsonSerializable(typeof(Created))]
[JsonSerializable(typeof(JobList))]
partial class AppJson : JsonSerializerContext;
