using Ksana.Http;
using Ksana.Http.Outbound;
using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Hosting;

/// <summary>
/// Builds the whole server from <see cref="Settings"/>. Program.cs and the integration tests both
/// start Ksana through here; tests pass their own clock and, where they need to, a callback handler.
/// </summary>
public static class KsanaHost
{
    public static WebApplication Build(Settings settings, TimeProvider? time = null, Func<HttpMessageHandler>? callbackHandler = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.AddKsanaLogging(settings);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = RequestBody.SizeMax;
            if (settings.Urls is null) kestrel.ListenAnyIP(settings.Port);
        });
        if (settings.Urls is not null) builder.WebHost.UseUrls(settings.Urls);
        // SIGTERM drains attempts in flight; each is bounded by its own timeout, at most an hour.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = Settings.DurationMax.ToTimeSpan() + TimeSpan.FromSeconds(30));

        var services = builder.Services;
        services.AddSingleton(settings);
        services.AddSingleton(time ?? TimeProvider.System);
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, KsanaJson.Default);
            o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
        });
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ExplainException);
        services.AddSingleton(sp => DataDir.Open(settings.DataDir, settings.RunsKept, settings.MaxJobs,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Ksana.Storage")));
        services.AddSingleton(sp => sp.GetRequiredService<DataDir>().Table);
        services.AddSingleton(sp => new CallbackSender(new HttpMessageInvoker(callbackHandler?.Invoke() ?? CallbackSender.Handler()),
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new Runner(sp.GetRequiredService<JobTable>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<Runner>>(), sp.GetRequiredService<CallbackSender>().SendAsync, settings.Workers,
            $"ksana/{Settings.Version}") { EventsOn = settings.EventsUrl is not null });
        if (settings.EventsUrl is { } eventsUrl)
        {
            services.AddSingleton(sp => new EventSender(sp.GetRequiredService<JobTable>(), CallbackSender.Handler(), eventsUrl,
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<EventSender>>(),
                settings.DefaultTimeout.ToTimeSpan(), settings.RetryBackoff.ToTimeSpan(), $"ksana/{Settings.Version}"));
            services.AddHostedService(sp => sp.GetRequiredService<EventSender>());
        }
        services.AddSingleton<Scheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<Scheduler>());
        services.AddSingleton<Jobs>();
        services.AddSingleton(sp => new ApiKeys(settings.AuthKeysFile, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ApiKeys>>()));

        var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions { StatusCodeSelector = StatusFor });
        app.UseStatusCodePages();
        app.UseApiKeys();
        app.MapGet("/health", () => TypedResults.Ok(new Health()));
        app.MapJobs();
        app.MapRuns();
        app.MapSchedules();
        Operations.StatusPageEndpoint.MapStatusPage(app);

        // Open the data directory and repair what a crash left before the first request is served.
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Ksana.Startup");
        var opened = System.Diagnostics.Stopwatch.GetTimestamp();
        app.Services.GetRequiredService<ApiKeys>();
        var data = app.Services.GetRequiredService<DataDir>();
        var replayed = System.Diagnostics.Stopwatch.GetElapsedTime(opened);
        app.Services.GetRequiredService<Jobs>().RecoverAsync(app.Services.GetRequiredService<Scheduler>()).GetAwaiter().GetResult();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            log.LogInformation("Ready: {Jobs} jobs, journal replayed in {Replay} ms, ready {Total} ms after process start",
                data.Table.Count, (long)replayed.TotalMilliseconds,
                (long)(DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime).TotalMilliseconds);
            // Replay and the first compaction leave a heap of garbage; give it back to the system once,
            // so an edge box sees the steady-state footprint rather than the start-up peak.
            data.Journal.Compacted = () =>
            {
                data.Journal.Compacted = null;
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            };
            data.Journal.RequestCompaction();
        });
        return app;
    }

    static int StatusFor(Exception e) => e switch
    {
        BadHttpRequestException bad => bad.StatusCode,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>Expected failures say what happened; anything else says only that it was logged.</summary>
    static void ExplainException(ProblemDetailsContext context)
    {
        context.ProblemDetails.Extensions.Remove("traceId");
        var request = context.HttpContext.Request;
        context.ProblemDetails.Detail ??= context.Exception switch
        {
            null when context.ProblemDetails.Status == StatusCodes.Status404NotFound => $"no such resource: {request.Method} {request.Path}",
            null when context.ProblemDetails.Status == StatusCodes.Status405MethodNotAllowed =>
                $"{request.Method} is not allowed on {request.Path}; allowed: {context.HttpContext.Response.Headers.Allow}",
            BadHttpRequestException bad => bad.Message,
            null => null,
            _ => "an unexpected error occurred; it has been logged",
        };
    }
}
