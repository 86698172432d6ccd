using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ksana.Tests.EndToEnd;

/// <summary>One request as the callee saw it; <see cref="AnsweredAt"/> is set once the answer is on its way.</summary>
public sealed class CalleeRequest
{
    public required DateTimeOffset ArrivedAt { get; init; }
    public required string Method { get; init; }
    public required string Path { get; init; }
    public required Dictionary<string, string> Headers { get; init; }
    public required string Body { get; init; }
    public DateTimeOffset? AnsweredAt { get; set; }

    /// <summary>The caller went away (connection closed) before the callee answered.</summary>
    public bool Aborted { get; set; }

    public string Header(string name) => Headers.TryGetValue(name, out var v) ? v : "";
    public string RunId => Header("X-Ksana-Run-Id");
    public string JobId => Header("X-Ksana-Job-Id");
}

/// <summary>
/// A real HTTP endpoint on loopback for ksana to call: it records each request's arrival time,
/// path, headers and body, and answers after a per-path delay with a per-path status.
/// </summary>
public sealed class Callee : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly List<CalleeRequest> _requests = [];
    readonly ConcurrentDictionary<string, TimeSpan> _delays = new();
    readonly ConcurrentDictionary<string, int> _statuses = new();
    readonly ConcurrentDictionary<string, ConcurrentQueue<int>> _scripts = new();
    readonly SemaphoreSlim _arrived = new(0);

    const string WarmUpPath = "/__callee-warm-up";

    public Uri BaseAddress { get; private set; } = null!;

    Callee(WebApplication app) => _app = app;

    public static async Task<Callee> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var callee = new Callee(app);
        app.Run(callee.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        callee.BaseAddress = new Uri(address);

        // Kestrel's pipeline and this handler are JIT-compiled on their first request; do that now,
        // so that the lateness a test measures is ksana's, not the callee's first-request cost.
        using (var http = new HttpClient())
            for (var i = 0; i < 3; i++)
                (await http.PostAsync(callee.Url(WarmUpPath), new StringContent("{}"))).Dispose();
        lock (callee._requests) callee._requests.Clear();
        while (callee._arrived.CurrentCount > 0) callee._arrived.Wait(0);
        return callee;
    }

    public string Url(string path) => new Uri(BaseAddress, path).ToString();

    public void Delay(string path, TimeSpan delay) => _delays[path] = delay;

    public void Status(string path, int status) => _statuses[path] = status;

    /// <summary>Answers the next requests on <paramref name="path"/> with these statuses, in order, then as <see cref="Status"/> says.</summary>
    public void Script(string path, params int[] statuses) => _scripts[path] = new ConcurrentQueue<int>(statuses);

    async Task HandleAsync(HttpContext context)
    {
        var arrivedAt = DateTimeOffset.UtcNow;
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync();
        var request = new CalleeRequest
        {
            ArrivedAt = arrivedAt,
            Method = context.Request.Method,
            Path = context.Request.Path.Value ?? "",
            Headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            Body = body,
        };
        lock (_requests) _requests.Add(request);
        _arrived.Release();

        if (_delays.TryGetValue(request.Path, out var delay))
        {
            try
            {
                await Task.Delay(delay, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                request.Aborted = true;
                return;
            }
        }
        if (context.RequestAborted.IsCancellationRequested)
        {
            request.Aborted = true;
            return;
        }
        request.AnsweredAt = DateTimeOffset.UtcNow;
        context.Response.StatusCode =
            _scripts.TryGetValue(request.Path, out var script) && script.TryDequeue(out var scripted) ? scripted
            : _statuses.TryGetValue(request.Path, out var status) ? status
            : 200;
        await context.Response.WriteAsync("ok");
    }

    public CalleeRequest[] Requests(string? path = null)
    {
        lock (_requests)
            return _requests.Where(r => path is null || r.Path == path).ToArray();
    }

    /// <summary>Waits until at least <paramref name="count"/> requests reached <paramref name="path"/>; returns them all.</summary>
    public async Task<CalleeRequest[]> WaitForAsync(string path, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var seen = Requests(path);
            if (seen.Length >= count) return seen;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"the callee got {seen.Length} of {count} requests on {path} within {timeout}");
            await _arrived.WaitAsync(left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}
