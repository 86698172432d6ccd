using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ksana.Tests.Support;

/// <summary>
/// One request as the callee saw it arrive. <see cref="AnsweredAt"/> is set once the answer is on
/// its way; <see cref="Aborted"/> when the caller went away (connection closed) before that.
/// </summary>
public sealed record Recorded(
    long ArrivedTimestamp, DateTimeOffset ArrivedAt, string Method, string Path, Dictionary<string, string> Headers, string Body)
{
    /// <summary>The clock <see cref="ArrivedTimestamp"/> and the times were read from.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    public DateTimeOffset? AnsweredAt { get; set; }

    public bool Aborted { get; set; }

    public string Header(string name) => Headers.TryGetValue(name, out var v) ? v : "";

    public string RunId => Header("X-Ksana-Run-Id");

    public string JobId => Header("X-Ksana-Job-Id");

    /// <summary>Time between two arrivals, measured with the callee's monotonic clock.</summary>
    public TimeSpan Since(Recorded earlier) => Clock.GetElapsedTime(earlier.ArrivedTimestamp, ArrivedTimestamp);
}

/// <summary>How the callee answers one request: status, a delay before answering, extra headers, a body.</summary>
public sealed record Reply(int Status, TimeSpan Delay = default, Dictionary<string, string>? Headers = null, byte[]? Body = null)
{
    public static Reply Ok => new(200);

    /// <summary>200 after <paramref name="delay"/> (real time): a slow callee.</summary>
    public static Reply Slow(TimeSpan delay) => new(200, delay);
}

/// <summary>
/// The target Ksana calls: a real Kestrel server on loopback in the test process, for in-process
/// servers and the published binary alike. It records every request (arrival, method, path,
/// headers, body, when it was answered or that the caller went away) and answers from a per-path
/// script; when a path's script is used up it answers with the path's fallback (200 unless set).
/// It also counts the requests in flight at once, for the WORKERS limit. Arrival times come from
/// <see cref="Clock"/>, so a test on a fake clock sees fake arrival times; reply delays are real.
/// </summary>
public sealed class Callee : IAsyncDisposable
{
    const string WarmUpPath = "/__callee-warm-up";

    readonly WebApplication _app;
    readonly ConcurrentDictionary<string, ConcurrentQueue<Reply>> _scripts = new();
    readonly ConcurrentDictionary<string, Reply> _fallbacks = new();
    readonly ConcurrentQueue<Recorded> _requests = new();
    readonly SemaphoreSlim _arrived = new(0);
    int _inFlight;
    int _inFlightMax;

    Callee(WebApplication app, TimeProvider clock)
    {
        _app = app;
        Clock = clock;
    }

    public TimeProvider Clock { get; }

    public string BaseUrl { get; private set; } = "";

    public Uri BaseAddress => new(BaseUrl);

    public string Url(string path) => BaseUrl + path;

    public IReadOnlyList<Recorded> Requests => _requests.ToArray();

    public IReadOnlyList<Recorded> RequestsTo(string path) => _requests.Where(r => r.Path == path).ToArray();

    public int InFlightMax => Volatile.Read(ref _inFlightMax);

    /// <summary>Queues replies for <paramref name="path"/>, answered in order.</summary>
    public Callee Script(string path, params Reply[] replies)
    {
        var queue = _scripts.GetOrAdd(path, _ => new ConcurrentQueue<Reply>());
        foreach (var r in replies) queue.Enqueue(r);
        return this;
    }

    /// <summary>The reply once the path's script is used up (default 200).</summary>
    public Callee Always(string path, Reply reply)
    {
        _fallbacks[path] = reply;
        return this;
    }

    /// <summary>Starts a callee on a free loopback port; <paramref name="clock"/> stamps arrivals (default: the real clock).</summary>
    public static async Task<Callee> StartAsync(TimeProvider? clock = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        var app = builder.Build();
        var callee = new Callee(app, clock ?? TimeProvider.System);
        app.Run(callee.Handle);
        await app.StartAsync();
        callee.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');

        // Kestrel's pipeline and this handler are JIT-compiled on their first request; do that now,
        // so that the lateness a test measures is Ksana's, not the callee's first-request cost.
        using (var http = new HttpClient())
            for (var i = 0; i < 3; i++)
                (await http.PostAsync(callee.Url(WarmUpPath), new StringContent("{}"))).Dispose();
        callee._requests.Clear();
        while (callee._arrived.CurrentCount > 0) callee._arrived.Wait(0);
        return callee;
    }

    /// <summary>Waits until at least <paramref name="count"/> requests reached <paramref name="path"/> (real time); returns them all.</summary>
    public async Task<IReadOnlyList<Recorded>> WaitForAsync(string path, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var seen = RequestsTo(path);
            if (seen.Count >= count) return seen;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"the callee got {seen.Count} of {count} requests on {path} within {timeout}");
            await _arrived.WaitAsync(left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
        }
    }

    async Task Handle(HttpContext context)
    {
        var arrived = Clock.GetTimestamp();
        var at = Clock.GetUtcNow();
        var now = Interlocked.Increment(ref _inFlight);
        int max;
        while (now > (max = Volatile.Read(ref _inFlightMax)) && Interlocked.CompareExchange(ref _inFlightMax, now, max) != max) { }
        try
        {
            var request = context.Request;
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, value) in request.Headers) headers[name] = value.ToString();
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            var path = request.Path.Value ?? "/";
            var recorded = new Recorded(arrived, at, request.Method, path, headers, body) { Clock = Clock };
            if (path == WarmUpPath) return;
            _requests.Enqueue(recorded);
            _arrived.Release();

            var reply = _scripts.TryGetValue(path, out var queue) && queue.TryDequeue(out var next) ? next
                : _fallbacks.TryGetValue(path, out var fallback) ? fallback : Reply.Ok;
            if (reply.Delay > TimeSpan.Zero)
            {
                try { await Task.Delay(reply.Delay, context.RequestAborted); }
                catch (OperationCanceledException) { }
            }
            if (context.RequestAborted.IsCancellationRequested)
            {
                recorded.Aborted = true;
                return;
            }
            recorded.AnsweredAt = Clock.GetUtcNow();
            context.Response.StatusCode = reply.Status;
            foreach (var (name, value) in reply.Headers ?? []) context.Response.Headers[name] = value;
            if (reply.Body is { } answer) await context.Response.Body.WriteAsync(answer, context.RequestAborted);
        }
        finally
        {
            // Counted out before the answer is written, so the caller can never see an overlap that was not there.
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await _app.StopAsync(stop.Token); }
        finally { await _app.DisposeAsync(); }
    }
}
