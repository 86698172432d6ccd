// Quartz.NET AdoJobStore peer for Ksana's comparison benchmarks (see README.md): the in-memory
// peer of ../quartz with its triggers in a database, PostgreSQL or SQLite (QUARTZ_STORE).
// One durable job type (HookJob) that GETs a URL; each POST /jobs adds one SimpleTrigger carrying
// its URL in the trigger's JobDataMap, committed to the database before the 201.
using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;
using Microsoft.Data.Sqlite;
using Npgsql;
using Quartz;

var port = int.Parse(Environment.GetEnvironmentVariable("PORT") ?? "18104", CultureInfo.InvariantCulture);
var maxConcurrency = int.Parse(Environment.GetEnvironmentVariable("MAX_CONCURRENCY") ?? "64", CultureInfo.InvariantCulture);
var store = Environment.GetEnvironmentVariable("QUARTZ_STORE") ?? "postgres";
var dataDir = Environment.GetEnvironmentVariable("DATA_DIR") ?? Path.GetFullPath("data");
Directory.CreateDirectory(dataDir);

var connectionString = store switch
{
    "postgres" => Store.PreparePostgres(dataDir),
    "sqlite" => Store.PrepareSqlite(dataDir),
    _ => throw new ArgumentException($"QUARTZ_STORE={store}: postgres or sqlite"),
};

Hook.Init(maxConcurrency);

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJson.Default));

builder.Services.AddQuartz(q =>
{
    q.UsePersistentStore(s =>
    {
        if (store == "postgres") s.UsePostgres(connectionString);
        else s.UseSqlite(connectionString);   // Microsoft.Data.Sqlite; Quartz serializes all access itself
        s.UseSystemTextJsonSerializer();
    });
    q.UseDefaultThreadPool(maxConcurrency);
    q.ConfigureScheduler(s => s.PropagateTraceContext = false);   // as ../quartz
    q.AddJob<HookJob>(j => j.WithIdentity(HookJob.Key).StoreDurably());
});
builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = false);

var app = builder.Build();
IScheduler? scheduler = null;
app.Lifetime.ApplicationStarted.Register(() =>
    scheduler = app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler().AsTask().GetAwaiter().GetResult());

app.MapGet("/health", () => scheduler is { Status: SchedulerStatus.Running }
    ? Results.Json(new Status("ok"), AppJson.Default.Status)
    : Results.Json(new Status("starting"), AppJson.Default.Status, statusCode: 503));

app.MapGet("/capabilities", () => Results.Json(new Capabilities(true), AppJson.Default.Capabilities));

// Ids must stay unique across restarts on the same database: a process prefix and a counter.
var idPrefix = Guid.NewGuid().ToString("N")[..8];
long nextId = 0;
app.MapPost("/jobs", async (JobRequest req, CancellationToken ct) =>
{
    if (scheduler is null) return Results.StatusCode(503);
    if (req.Type != "http" || req.Http?.Url is not { } url || req.Schedule is not { Kind: "every" } sch
        || !TryParseSeconds(sch.Every, out var every))
        return Results.BadRequest();

    var first = FirstSlot(sch.StartAt, every, DateTimeOffset.UtcNow);
    var id = idPrefix + "-" + Interlocked.Increment(ref nextId).ToString(CultureInfo.InvariantCulture);
    var trigger = TriggerBuilder.Create()
        .WithIdentity(id)
        .ForJob(HookJob.Key)
        .UsingJobData(HookJob.UrlKey, url)
        .StartAt(first)
        .WithSimpleSchedule(x => x
            .WithInterval(TimeSpan.FromSeconds(every))
            .RepeatForever()
            .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount))
        .Build();
    // Returns once the AdoJobStore transaction has committed.
    await scheduler.ScheduleJob(trigger, cancellationToken: ct);
    return Results.Json(new Created(id), AppJson.Default.Created, statusCode: 201);
});

// For the kill -9 check: every trigger in the store (one page), and one by id.
app.MapGet("/jobs", async (CancellationToken ct) =>
{
    if (scheduler is null) return Results.StatusCode(503);
    var keys = await scheduler.GetTriggerKeys(GroupMatcher<TriggerKey>.AnyGroup(), ct);
    return Results.Json(new JobList([.. keys.Select(k => new Created(k.Name))], null), AppJson.Default.JobList);
});
app.MapGet("/jobs/{id}", async (string id, CancellationToken ct) =>
    scheduler is not null && await scheduler.GetTrigger(new TriggerKey(id), ct) is not null
        ? Results.Json(new Created(id), AppJson.Default.Created) : Results.NotFound());

app.Run();

static DateTimeOffset FirstSlot(DateTimeOffset? startAt, int everySeconds, DateTimeOffset now)
{
    var period = TimeSpan.FromSeconds(everySeconds);
    if (startAt is not { } s) return now + period;
    if (s >= now) return s;
    var k = (long)Math.Ceiling((now - s).Ticks / (double)period.Ticks);
    return s + TimeSpan.FromTicks(k * period.Ticks);
}

static bool TryParseSeconds(string? every, out int seconds)
{
    seconds = 0;
    return every is { Length: > 1 } && every[^1] == 's'
        && int.TryParse(every.AsSpan(0, every.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out seconds)
        && seconds >= 1;
}

/// <summary>The database of one instance: created with the tables on first start, reused after a restart.</summary>
static class Store
{
    static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;

    /// <summary>
    /// One PostgreSQL schema per DATA_DIR (its name kept in DATA_DIR/pg-schema), so that every fresh
    /// instance starts empty and a restart finds its triggers. synchronous_commit is on (the server's
    /// default, and bench/run.sh states it): a commit returns after the WAL is fsync'd.
    /// </summary>
    public static string PreparePostgres(string dataDir)
    {
        var baseCs = new NpgsqlConnectionStringBuilder
        {
            Host = Env("BENCH_PG_HOST", "127.0.0.1"),
            Port = int.Parse(Env("BENCH_PG_PORT", "5432"), CultureInfo.InvariantCulture),
            Username = Env("BENCH_PG_USER", "bench"),
            Database = Env("BENCH_PG_DB", "bench"),
        };
        var marker = Path.Combine(dataDir, "pg-schema");
        string schema;
        if (File.Exists(marker)) schema = File.ReadAllText(marker).Trim();
        else
        {
            schema = "quartz_" + Guid.NewGuid().ToString("N")[..12];
            using var c = new NpgsqlConnection(baseCs.ConnectionString);
            c.Open();
            Exec(c, $"CREATE SCHEMA {schema}; SET search_path TO {schema};");
            Exec(c, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "tables_postgres.sql")));
            var sync = Scalar(c, "SHOW synchronous_commit");
            if (sync != "on") throw new InvalidOperationException($"synchronous_commit is {sync}, not on");
            File.WriteAllText(marker, schema);
        }
        baseCs.SearchPath = schema;
        return baseCs.ConnectionString;
    }

    /// <summary>
    /// DATA_DIR/quartz.db in WAL mode; synchronous stays FULL (2), checked here: SQLite's default,
    /// which every connection Quartz opens gets, so each commit fsyncs the WAL.
    /// </summary>
    public static string PrepareSqlite(string dataDir)
    {
        var file = Path.Combine(dataDir, "quartz.db");
        var cs = new SqliteConnectionStringBuilder { DataSource = file, Pooling = true }.ConnectionString;
        bool fresh = !File.Exists(file);
        using var c = new SqliteConnection(cs);
        c.Open();
        if (fresh)
        {
            Exec(c, "PRAGMA journal_mode=WAL;");
            Exec(c, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "tables_sqlite.sql")));
        }
        var sync = Scalar(c, "PRAGMA synchronous");
        if (sync != "2") throw new InvalidOperationException($"SQLite synchronous is {sync}, not 2 (FULL)");
        return cs;
    }

    static void Exec(DbConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    static string? Scalar(DbConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}

static class Hook
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

    public static async ValueTask Get(string url, CancellationToken ct)
    {
        await gate!.WaitAsync(ct);
        try
        {
            using var resp = await http!.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // no retries: a failed or timed-out call is simply lost, as with max_retries 0
        }
        finally { gate.Release(); }
    }
}

sealed class HookJob : IJob
{
    public static readonly JobKey Key = new("hook");
    public const string UrlKey = "url";
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
        => Hook.Get(context.MergedJobDataMap.GetString(UrlKey)!, cancellationToken);
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
