using System.Net;
using System.Net.Sockets;
using Ksana.Cluster;
using Ksana.Http;
using Ksana.Http.Outbound;
using Ksana.Http.Trust;
using Ksana.Operations;
using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Hosting;

/// <summary>
/// Builds the whole server from <see cref="Settings"/>. Program.cs and the integration tests both
/// start Ksana through here; tests pass their own clock and, where they need to, a callback handler.
/// </summary>
public static class KsanaHost
{
    /// <summary>
    /// When this run of the binary began: Program sets it first thing. Not the process's start time,
    /// which for a binary exec'd by a script (<c>./build.sh run</c>) is the script's, build included.
    /// </summary>
    public static long StartedAt { get; set; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>
    /// Stops start-up with one clear line when another process listens on PORT, or on a URL of URLS,
    /// before the journal is replayed: Kestrel would find out only after the replay, and the host
    /// logs such a failure with its whole stack trace before Program.cs can say what it is. A URL is
    /// read by Kestrel's own parser (<see cref="BindingAddress"/>) and probed where Kestrel binds it:
    /// an IP address as given, <c>localhost</c> on both loopbacks, any other host (<c>*</c>, <c>+</c>,
    /// a name) on every address. A Unix socket, port 0 or a URL Kestrel cannot parse is left to
    /// Kestrel's own bind, as before. Each probe is bound and let go at once, with SO_REUSEADDR as
    /// Kestrel binds, so a port whose last connections linger in TIME_WAIT is not taken for one in
    /// use. Should another process take a port between the probe and Kestrel's bind, Program.cs
    /// still reports it.
    /// </summary>
    static void ThrowIfPortInUse(Settings settings)
    {
        if (settings.Urls is null)
        {
            if (InUse(IPAddress.IPv6Any, settings.Port))
                throw new StartupException($"PORT={settings.Port}: the port is in use by another process (set PORT to a free one)");
            return;
        }
        foreach (var url in settings.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            BindingAddress address;
            try
            {
                address = BindingAddress.Parse(url);
            }
            catch (FormatException)
            {
                continue;
            }
            if (address.IsUnixPipe || address.Port <= 0) continue;
            var host = address.Host.TrimStart('[').TrimEnd(']');
            IPAddress[] ips = IPAddress.TryParse(host, out var literal) ? [literal]
                : host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? [IPAddress.Loopback, IPAddress.IPv6Loopback]
                : [IPAddress.IPv6Any];
            if (ips.Any(ip => InUse(ip, address.Port)))
                throw new StartupException($"URLS={url}: the port is in use by another process (set URLS to a free one)");
        }
    }

    /// <summary>Whether binding <paramref name="ip"/>:<paramref name="port"/> fails because another socket holds it.</summary>
    static bool InUse(IPAddress ip, int port)
    {
        try
        {
            using var probe = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (ip.Equals(IPAddress.IPv6Any)) probe.DualMode = true;
            probe.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            probe.Bind(new IPEndPoint(ip, port));
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return true;
        }
        catch (SocketException)
        {
            // No IPv6 on this host, an address not on this machine, say: Kestrel's own bind decides, as before.
            return false;
        }
    }

    public static WebApplication Build(Settings settings, TimeProvider? time = null, Func<HttpMessageHandler>? callbackHandler = null)
    {
        // Ksana is configured by its environment (Settings). The host's default watch on appsettings*.json
        // is a recursive inotify watch of the working directory, which holds ./data by default: every
        // journal write would wake the watcher thread. No watch.
        ThrowIfPortInUse(settings);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
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
        var clustered = settings.DatabaseUrl is not null;
        if (settings.DatabaseUrl is { } databaseUrl)
        {
            // Cluster mode (SPEC §12): the state lives in PostgreSQL; this node follows and fires its share.
            services.AddSingleton(sp => ClusterStore.Open(databaseUrl, settings.NodeName, settings.RunsKept, settings.MaxJobs,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("Ksana.Cluster"), sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton(sp => sp.GetRequiredService<ClusterStore>().Table);
            services.AddSingleton(sp =>
            {
                var store = sp.GetRequiredService<ClusterStore>();
                return new ClusterNode(store.Database, store.Table, store.Log, settings.NodeName, settings.LeaseTtl.ToTimeSpan(), store.FeedSeq,
                    sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ClusterNode>>());
            });
            services.AddHostedService(sp => sp.GetRequiredService<ClusterNode>());
        }
        else
        {
            services.AddSingleton(sp => DataDir.Open(settings.DataDir, settings.RunsKept, settings.MaxJobs,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("Ksana.Storage"), time: sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton(sp => sp.GetRequiredService<DataDir>().Table);
        }
        // Delivery trust (SPEC §8, §10): signing secrets, where callbacks may go, per-host caps.
        services.AddSingleton(sp => new SigningKeys(settings.SigningKeysFile, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<SigningKeys>>()));
        services.AddSingleton(_ => OutboundRules.Create(settings.OutboundDeny, settings.OutboundAllow,
            OutboundRules.PortsOf(settings.Urls, settings.Port), out var outboundError) ?? throw new StartupException(outboundError));
        services.AddSingleton(sp =>
        {
            var rules = sp.GetRequiredService<OutboundRules>();
            var handler = callbackHandler?.Invoke() ?? CallbackSender.Handler(new OutboundConnector(() => rules.Current));
            return new CallbackSender(new HttpMessageInvoker(handler), sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(sp => new Runner(sp.GetRequiredService<JobTable>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<Runner>>(), sp.GetRequiredService<CallbackSender>().SendAsync, settings.Workers,
            clustered ? $"ksana/{Settings.Version} (node {settings.NodeName})" : $"ksana/{Settings.Version}")
        {
            Claim = clustered ? sp.GetRequiredService<ClusterNode>().ClaimAsync : null,
            EventsOn = settings.EventsUrl is not null,
            Sign = sp.GetRequiredService<SigningKeys>().Sign,
            Hosts = settings.HostConcurrency is { } perHost ? new HostSlots(perHost) : null,
            Observer = sp.GetRequiredService<RunObserver>(),
        });
        services.AddSingleton(sp => new AuthThrottle(sp.GetRequiredService<TimeProvider>()));
        if (settings.EventsUrl is { } eventsUrl)
        {
            services.AddSingleton(sp => new EventSender(sp.GetRequiredService<JobTable>(), CallbackSender.Handler(), eventsUrl,
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<EventSender>>(),
                settings.DefaultTimeout.ToTimeSpan(), settings.RetryBackoff.ToTimeSpan(), $"ksana/{Settings.Version}")
            {
                // Events are signed as attempts are (SPEC §9), with webhook-id set to the event id.
                Sign = sp.GetRequiredService<SigningKeys>().Headers,
            });
            services.AddHostedService(sp => sp.GetRequiredService<EventSender>());
        }
        services.AddSingleton(_ => new KsanaMetrics(Settings.Version, System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime()));
        services.AddSingleton(sp => new RunsPerMinute(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<RunObserver>(sp => new RunMetrics(sp.GetRequiredService<KsanaMetrics>(), sp.GetRequiredService<RunsPerMinute>()));
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
        app.MapStatusPage();
        app.MapMetrics(withoutKey: settings.MetricsPublic);
        app.MapStats();
        app.MapOpenApi();
        app.MapCluster(settings.NodeName);

        // Open the data directory and repair what a crash left before the first request is served.
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Ksana.Startup");
        var opened = System.Diagnostics.Stopwatch.GetTimestamp();
        app.Services.GetRequiredService<ApiKeys>();
        app.Services.GetRequiredService<SigningKeys>();
        var outbound = app.Services.GetRequiredService<OutboundRules>();
        var table = app.Services.GetRequiredService<JobTable>();
        var data = clustered ? null : app.Services.GetRequiredService<DataDir>();
        var replayed = System.Diagnostics.Stopwatch.GetElapsedTime(opened);
        Observe(app.Services, data);
        var scheduler = app.Services.GetRequiredService<Scheduler>();
        var jobs = app.Services.GetRequiredService<Jobs>();
        if (app.Services.GetService<ClusterNode>() is { } node)
        {
            var runner = app.Services.GetRequiredService<Runner>();
            scheduler.Owns = node.Owns;
            scheduler.Renewing = () => node.Renewing;
            scheduler.RenewalWait = settings.LeaseTtl.ToTimeSpan();
            node.TakeOver = jobs.TakeOverAsync;
            node.RunningHere = id => runner.InFlight(id) is not null;
            node.EventsOn = runner.EventsOn;
            node.Deleted = runner.Forget;
            if (app.Services.GetService<EventSender>() is { } events)
            {
                events.Owns = node.Owns;
                node.OutboxTaken = events.Wake;
            }
        }
        jobs.RecoverAsync(scheduler, clustered).GetAwaiter().GetResult();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            // Ksana's own port is denied to callbacks (SPEC §10): now every bound port is known, port 0 included.
            var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
                .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses ?? [];
            outbound.Listening(bound.Select(a => BindingAddress.Parse(a).Port).Where(p => p > 0));
            log.LogInformation("Ready: {Jobs} jobs, {Source} in {Replay} ms, ready {Total} ms after start",
                table.Count, clustered ? "loaded from PostgreSQL" : "journal replayed", (long)replayed.TotalMilliseconds,
                (long)System.Diagnostics.Stopwatch.GetElapsedTime(StartedAt).TotalMilliseconds);
            // Loading the jobs leaves a heap of garbage, and the start-up compaction more: give each back to
            // the system once it is done, so that an edge box sees the steady-state footprint rather than
            // the start-up peak. The first goes once the first plan is made, not after the compaction:
            // held until then, it kept 10,000 jobs with 225,000 runs at 171–176 MB instead of 113–115.
            static void GiveBack() => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            scheduler.FirstPlanMade.ContinueWith(_ => GiveBack(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            if (data is null) return;
            data.Journal.Compacted = () =>
            {
                data.Journal.Compacted = null;
                GiveBack();
            };
            data.Journal.RequestCompaction();
        });
        return app;
    }

    /// <summary>
    /// Connects the metrics to what they count: the runner and the table report as they go, the
    /// journal after each sync, the key check on each refusal; sizes and counts are read at scrape time.
    /// </summary>
    static void Observe(IServiceProvider services, DataDir? data)
    {
        var metrics = services.GetRequiredService<KsanaMetrics>();
        var table = services.GetRequiredService<JobTable>();
        table.Observer = services.GetRequiredService<RunObserver>();
        if (data is not null)
        {
            data.Journal.Observer = new JournalMetrics(metrics);
            metrics.JournalBytes.ReadFrom(() => data.Journal.FileLength);
        }
        else
        {
            services.GetRequiredService<ClusterStore>().Log.Observer = new JournalMetrics(metrics);
        }
        services.GetRequiredService<ApiKeys>().Refused = metrics.AuthFailed;
        var events = services.GetService<EventSender>();
        metrics.EventsPending.ReadFrom(() => events?.Pending ?? 0);
        metrics.JobsByState = () =>
        {
            var counts = table.CountByState();
            return new KsanaMetrics.JobCounts(counts[(int)Wire.JobState.Scheduled], counts[(int)Wire.JobState.Paused],
                counts[(int)Wire.JobState.Completed], counts[(int)Wire.JobState.Missed]);
        };
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
