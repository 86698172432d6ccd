using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;

namespace Ksana.Tests.Support;

/// <summary>One request as the Node callee saw it, and whether the official verifier accepted it.</summary>
public sealed record VerifiedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body, bool Verified, string? Error)
{
    public string Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : "";
}

/// <summary>
/// A callee that checks Standard Webhooks signatures with the official npm <c>standardwebhooks</c>
/// package (Support/node/verify-callee.mjs), so signing is judged by a verifier nobody here wrote.
/// It knows the secrets it is given, answers 200 when a request verifies and 401 when not, and
/// reports every request. Needs <c>node</c> and <c>npm</c>; the first use runs <c>npm ci</c> when
/// node_modules is missing (build.sh does that before the tests).
/// </summary>
public sealed class NodeVerifierCallee : IAsyncDisposable
{
    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(3);
    static readonly SemaphoreSlim Install = new(1, 1);

    readonly Process _node;
    readonly ConcurrentQueue<VerifiedRequest> _requests = new();
    readonly ConcurrentQueue<string> _stderr = new();
    readonly Task _reader;

    NodeVerifierCallee(Process node, int port)
    {
        _node = node;
        Port = port;
        BaseUrl = $"http://127.0.0.1:{port}";
        _reader = Task.Run(ReadAsync);
    }

    public int Port { get; }
    public string BaseUrl { get; }
    public string Url(string path) => BaseUrl + path;

    /// <summary>Requests received so far, in arrival order.</summary>
    public IReadOnlyList<VerifiedRequest> Requests => _requests.ToArray();

    /// <summary>The directory that holds verify-callee.mjs and package.json, found from the test binary upwards.</summary>
    public static string ScriptDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "Support", "node");
                if (File.Exists(Path.Combine(candidate, "verify-callee.mjs"))) return candidate;
            }
            throw new InvalidOperationException($"Support/node/verify-callee.mjs not found above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>Starts the callee on a free loopback port, knowing <paramref name="secrets"/> (whsec_… each).</summary>
    public static async Task<NodeVerifierCallee> StartAsync(params string[] secrets)
    {
        var dir = ScriptDirectory;
        await EnsureInstalledAsync(dir);
        var start = new ProcessStartInfo("node", ["verify-callee.mjs", "0"])
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["VERIFY_SECRETS"] = string.Join(' ', secrets);
        var node = StartOrExplain(start);
        // The script's first line is {"listening":<port>}: it picked a free port itself, so no
        // other test can take the port between choosing and binding it.
        var first = await node.StandardOutput.ReadLineAsync().WaitAsync(StartTimeout);
        if (first is null)
        {
            var error = await node.StandardError.ReadToEndAsync();
            node.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"verify-callee.mjs exited before listening: {error}");
        }
        using var json = JsonDocument.Parse(first);
        var port = json.RootElement.GetProperty("listening").GetInt32();
        return new NodeVerifierCallee(node, port);
    }

    /// <summary>Waits until at least <paramref name="count"/> requests have arrived.</summary>
    public async Task<IReadOnlyList<VerifiedRequest>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(10)).TotalSeconds * Stopwatch.Frequency);
        while (_requests.Count < count)
        {
            if (Stopwatch.GetTimestamp() > deadline || _reader.IsCompleted)
                throw new TimeoutException($"the Node callee saw {_requests.Count} of {count} requests; stderr: {string.Join('\n', _stderr)}");
            await Task.Delay(20);
        }
        return Requests;
    }

    async Task ReadAsync()
    {
        var stderr = Task.Run(async () =>
        {
            while (await _node.StandardError.ReadLineAsync() is { } line) _stderr.Enqueue(line);
        });
        while (await _node.StandardOutput.ReadLineAsync() is { } line)
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var headers = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var header in root.GetProperty("headers").EnumerateObject())
                headers[header.Name] = header.Value.ValueKind == JsonValueKind.Array
                    ? string.Join(", ", header.Value.EnumerateArray().Select(v => v.GetString()))
                    : header.Value.GetString() ?? "";
            _requests.Enqueue(new VerifiedRequest(
                root.GetProperty("method").GetString()!,
                root.GetProperty("path").GetString()!,
                headers,
                root.GetProperty("body").GetString()!,
                root.GetProperty("verified").GetBoolean(),
                root.GetProperty("error").GetString()));
        }
        await stderr;
    }

    static async Task EnsureInstalledAsync(string dir)
    {
        if (Directory.Exists(Path.Combine(dir, "node_modules", "standardwebhooks"))) return;
        await Install.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(dir, "node_modules", "standardwebhooks"))) return;
            var npm = StartOrExplain(new ProcessStartInfo("npm", ["ci", "--no-audit", "--no-fund"])
            {
                WorkingDirectory = dir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            var output = npm.StandardOutput.ReadToEndAsync();
            var error = npm.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(InstallTimeout);
            await npm.WaitForExitAsync(timeout.Token);
            if (npm.ExitCode != 0)
                throw new InvalidOperationException($"npm ci in {dir} failed ({npm.ExitCode}): {await output}\n{await error}");
        }
        finally
        {
            Install.Release();
        }
    }

    static Process StartOrExplain(ProcessStartInfo start)
    {
        try
        {
            return Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"{start.FileName} is needed for the signature tests but cannot be run ({e.Message}): install Node.js and npm, e.g. apt-get install nodejs npm", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_node.HasExited) _node.Kill(entireProcessTree: true);
            await _node.WaitForExitAsync();
            await _reader.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (TimeoutException)
        {
        }
        _node.Dispose();
    }
}
