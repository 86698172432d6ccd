using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Ksana.Tests.Integration;

/// <summary>One request as the callee saw it arrive.</summary>
public sealed record Recorded(
    long ArrivedTimestamp, DateTimeOffset ArrivedAt, string Method, string Path, Dictionary<string, string> Headers, string Body)
{
    public string Header(string name) => Headers.TryGetValue(name, out var v) ? v : "";

    /// <summary>Time between two arrivals, measured with the monotonic clock.</summary>
    public TimeSpan Since(Recorded earlier) => Stopwatch.GetElapsedTime(earlier.ArrivedTimestamp, ArrivedTimestamp);
}

/// <summary>How the callee answers one request: status, a delay before answering, extra headers.</summary>
public sealed record Reply(int Status, TimeSpan Delay = default, Dictionary<string, string>? Headers = null, byte[]? Body = null)
{
    public static Reply Ok => new(200);
}

/// <summary>
/// The target Ksana calls: a real Kestrel server on loopback in the test process. It records every
/// request (arrival, method, path, headers, body) and answers from a per-path script; when a path's
/// script is used up it answers with the path's fallback (200 unless set). It also counts the
/// requests in flight at once, for the WORKERS limit.
/// </summary>
public sealed class Callee : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly ConcurrentDictionary<string, ConcurrentQueue<Reply>> _scripts = new();
    readonly ConcurrentDictionary<string, Reply> _fallbacks = new();
    readonly ConcurrentQueue<Recorded> _requests = new();
    int _inFlight;
    int _inFlightMax;

    Callee(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

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

    public static async Task<Callee> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        var app = builder.Build();
        var callee = new Callee(app);
        app.Run(callee.Handle);
        await app.StartAsync();
        callee.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return callee;
    }

    async Task Handle(HttpContext context)
    {
        var arrived = Stopwatch.GetTimestamp();
        var at = DateTimeOffset.UtcNow;
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
            _requests.Enqueue(new Recorded(arrived, at, request.Method, path, headers, body));

            var reply = _scripts.TryGetValue(path, out var queue) && queue.TryDequeue(out var next) ? next
                : _fallbacks.TryGetValue(path, out var fallback) ? fallback : Reply.Ok;
            if (reply.Delay > TimeSpan.Zero)
            {
                try { await Task.Delay(reply.Delay, context.RequestAborted); }
                catch (OperationCanceledException) { return; }
            }
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
