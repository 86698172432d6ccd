using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Ksana.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Ksana.Tests.Support;

/// <summary>
/// One Ksana server in this process, on its own loopback port and its own temporary data directory,
/// reached with a real HttpClient (it is a <see cref="KsanaApi"/>). Each test starts its own and
/// disposes it, so tests run in parallel. Given a fake clock, the server schedules, retries and
/// times attempts out on it (<see cref="FakeClock"/> drives it).
/// </summary>
public sealed class KsanaServer : KsanaApi, IAsyncDisposable
{
    readonly WebApplication _app;
    readonly TempDir _dir;
    bool _stopped;
    bool _handedOver;

    KsanaServer(WebApplication app, Settings settings, TempDir dir, string? keysFile, string key, Uri address, TimeProvider? time)
        : base(address, key)
    {
        _app = app;
        _dir = dir;
        Settings = settings;
        KeysFile = keysFile;
        Key = key;
        Address = address;
        Time = time;
        Anonymous = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(20) };
    }

    public Settings Settings { get; }

    /// <summary>The temporary directory that holds the data directory and the keys file.</summary>
    public string Dir => _dir.Path;
    public string? KeysFile { get; }
    /// <summary>The key written to the keys file at start (random per server).</summary>
    public string Key { get; }
    public Uri Address { get; }
    /// <summary>The clock the server was given (null: the real one).</summary>
    public TimeProvider? Time { get; }
    /// <summary>The server's components, for tests that drive them (the scheduler's tick, the runner).</summary>
    public IServiceProvider Services => _app.Services;
    /// <summary>Sends no key.</summary>
    public HttpClient Anonymous { get; }

    /// <summary>
    /// Starts a server. Defaults are the ones the API tests check against (10s timeout, 3 retries,
    /// 5s backoff); <paramref name="configure"/> changes any of them.
    /// <paramref name="keysFileContent"/>: null writes one fresh key; pass text to write that instead;
    /// <paramref name="withKeysFile"/> false starts without AUTH_KEYS_FILE. <paramref name="time"/>:
    /// the server's clock (a FakeTimeProvider for timing tests); the real one when null.
    /// <paramref name="beforeStart"/>: called with the built server before it starts (to wrap a component's hook).
    /// </summary>
    public static async Task<KsanaServer> StartAsync(
        Func<Settings, Settings>? configure = null, bool withKeysFile = true, string? keysFileContent = null, TimeProvider? time = null,
        Action<WebApplication>? beforeStart = null)
    {
        var dir = new TempDir();
        var key = "key-" + Guid.NewGuid().ToString("N");
        var keysFile = withKeysFile ? dir.WriteKeysText(keysFileContent ?? $"# test keys\n{key}\n") : null;
        var settings = new Settings
        {
            Urls = "http://127.0.0.1:0",
            DataDir = dir.Data,
            AuthKeysFile = keysFile,
            LogLevel = LogLevel.Warning,
            DefaultTimeout = Duration.FromSeconds(10),
            MaxRetries = 3,
            RetryBackoff = Duration.FromSeconds(5),
        };
        if (configure is not null) settings = configure(settings);

        try
        {
            return await StartOnAsync(settings, dir, keysFile, key, time, beforeStart);
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    static async Task<KsanaServer> StartOnAsync(Settings settings, TempDir dir, string? keysFile, string key, TimeProvider? time,
        Action<WebApplication>? beforeStart = null)
    {
        WebApplication? app = null;
        try
        {
            app = KsanaHost.Build(settings, time);
            beforeStart?.Invoke(app);
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new KsanaServer(app, settings, dir, keysFile, key, new Uri(address), time);
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
    /// keys file, on a new port and the same clock. The new server owns the directory from then on.
    /// </summary>
    public async Task<KsanaServer> RestartAsync(Func<Settings, Settings>? configure = null)
    {
        await StopAsync();
        _handedOver = true;
        var settings = configure is null ? Settings : configure(Settings);
        return await StartOnAsync(settings, _dir, KeysFile, Key, Time);
    }

    /// <summary>Builds a second server on this one's data directory; it is expected to refuse.</summary>
    public WebApplication BuildSecondInstance() => KsanaHost.Build(Settings);

    public override void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

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
            if (!_handedOver) _dir.Dispose();
        }
    }
}
