// Quartz.NET peer for Ksana's comparison benchmarks (bench/peers/README contract).
// One durable job type (HookJob) that GETs a URL; each POST /jobs adds one SimpleTrigger
// carrying its URL in the trigger's JobDataMap, so N jobs = 1 job detail + N triggers in RAMJobStore.
using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;
using Quartz;

var port = int.Parse(Environment.GetEnvironmentVariable("PORT") ?? "18100", CultureInfo.InvariantCulture);
var maxConcurrency = int.Parse(Environment.GetEnvironmentVariable("MAX_CONCURRENCY") ?? "64", CultureInfo.InvariantCulture);
// Triggers acquired per scheduler round. Unset = Quartz's automatic choice (1 for the in-memory store);
// 1 and 64 measured the same here at 10 000 aligned jobs, so the default stays. Experiment: QUARTZ_MAX_BATCH=64.
var maxBatch = int.Parse(Environment.GetEnvironmentVariable("QUARTZ_MAX_BATCH") ?? "0", CultureInfo.InvariantCulture);

Hook.Init(maxConcurrency);

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJson.Default));

builder.Services.AddQuartz(q =>
{
    q.UseInMemoryStore();                          // RAMJobStore; misfire threshold left at its default (60 s)
    q.UseDefaultThreadPool(maxConcurrency);        // quartz.threadPool.maxConcurrency
    q.ConfigureScheduler(s =>
    {
        s.MaxBatchSize = maxBatch;
        // On by default: each trigger scheduled inside an HTTP request would store that request's
        // W3C traceparent in its JobDataMap. Nothing here collects traces, so it is turned off.
        s.PropagateTraceContext = false;
    });
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

// SimpleTrigger honours any start instant, so sub-second phases are kept.
app.MapGet("/capabilities", () => Results.Json(new Capabilities(true), AppJson.Default.Capabilities));

long nextId = 0;
app.MapPost("/jobs", async (JobRequest req, CancellationToken ct) =>
{
    if (scheduler is null) return Results.StatusCode(503);
    if (req.Type != "http" || req.Http?.Url is not { } url || req.Schedule is not { Kind: "every" } sch
        || !TryParseSeconds(sch.Every, out var every))
        return Results.BadRequest();

    var now = DateTimeOffset.UtcNow;
    var first = FirstSlot(sch.StartAt, every, now);
    var id = Interlocked.Increment(ref nextId).ToString(CultureInfo.InvariantCulture);

    var trigger = TriggerBuilder.Create()
        .WithIdentity(id)
        .ForJob(HookJob.Key)
        .UsingJobData(HookJob.UrlKey, url)
        .StartAt(first)
        .WithSimpleSchedule(x => x
            .WithInterval(TimeSpan.FromSeconds(every))
            .RepeatForever()
            // What SmartPolicy resolves to for a repeat-forever SimpleTrigger, stated explicitly:
            // a misfired slot (> misfire threshold late) is skipped and the grid is kept, no catch-up burst.
            .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount))
        .Build();
    await scheduler.ScheduleJob(trigger, cancellationToken: ct);
    return Results.Json(new Created(id), AppJson.Default.Created, statusCode: 201);
});

app.Run();

// First slot start_at + k·every that is not in the past (start_at absent: now + every, as Ksana).
static DateTimeOffset FirstSlot(DateTimeOffset? startAt, int everySeconds, DateTimeOffset now)
{
    var period = TimeSpan.FromSeconds(everySeconds);
    if (startAt is not { } s) return now + period;
    if (s >= now) return s;
    var k = (long)Math.Ceiling((now - s).Ticks / (double)period.Ticks);
    return s + TimeSpan.FromTicks(k * period.Ticks);
}

// Whole-second Go durations only ("1s", "5s", "60s").
static bool TryParseSeconds(string? every, out int seconds)
{
    seconds = 0;
    return every is { Length: > 1 } && every[^1] == 's'
        && int.TryParse(every.AsSpan(0, every.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out seconds)
        && seconds >= 1;
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
record HttpSpec(string? Method, string? Url);
record ScheduleSpec(string? Kind, string? Every, [property: JsonPropertyName("start_at")] DateTimeOffset? StartAt);
record JobRequest(string? Name, string? Type, HttpSpec? Http, ScheduleSpec? Schedule,
    [property: JsonPropertyName("max_retries")] int? MaxRetries, string? Timeout);

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(JobRequest))]
[JsonSerializable(typeof(Status))]
[JsonSerializable(typeof(Capabilities))]
[JsonSerializable(typeof(Created))]
partial class AppJson : JsonSerializerContext;
