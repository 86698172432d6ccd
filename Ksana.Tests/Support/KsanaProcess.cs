using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Ksana.Tests.Support;

/// <summary>
/// The published ksana binary, run as a child process with its own data directory and port.
/// Output is captured so that a failing test can show what the server said.
/// </summary>
public sealed class KsanaProcess : IAsyncDisposable
{
    /// <summary>Environment variables that would leak a developer's own configuration into a test.</summary>
    static readonly string[] KsanaVariables =
    [
        "PORT", "URLS", "ASPNETCORE_URLS", "DATA_DIR", "AUTH_KEYS_FILE", "WORKERS", "DEFAULT_TIMEOUT",
        "MAX_RETRIES", "RETRY_BACKOFF", "MAX_JOBS", "RUNS_KEPT", "LOG_FORMAT", "LOG_LEVEL",
        "SIGNING_KEYS_FILE", "OUTBOUND_DENY", "OUTBOUND_ALLOW", "HOST_CONCURRENCY",
    ];

    static readonly Lazy<string> Binary = new(FindBinary);

    readonly Process _process;
    readonly StringBuilder _stdout = new();
    readonly StringBuilder _stderr = new();

    public int Port { get; }
    public string DataDir { get; }
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");
    public DateTimeOffset LaunchedAt { get; }
    /// <summary>When <see cref="StartAsync"/> saw the first healthy answer; null for a process only launched.</summary>
    public DateTimeOffset? ReadyAt { get; private set; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public DateTimeOffset ExitTime => new(_process.ExitTime.ToUniversalTime(), TimeSpan.Zero);
    public int ExitCode => _process.ExitCode;

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public string Output => $"--- stdout ---\n{Stdout}--- stderr ---\n{Stderr}";

    KsanaProcess(Process process, int port, string dataDir, DateTimeOffset launchedAt)
    {
        _process = process;
        Port = port;
        DataDir = dataDir;
        LaunchedAt = launchedAt;
    }

    public static string BinaryPath => Binary.Value;

    /// <summary>The management API of this process, sending <paramref name="key"/> (none when null).</summary>
    public KsanaApi Api(string? key) => new(BaseAddress, key);

    /// <summary>
    /// Starts ksana. <paramref name="env"/> is added to a clean environment (no inherited ksana
    /// settings); LOG_LEVEL defaults to Warning so that busy tests do not drown in request logs.
    /// <paramref name="command"/>, when given, is run instead of the published binary: a program and
    /// its leading arguments, such as an emulator and the binary it runs.
    /// </summary>
    public static KsanaProcess Launch(int port, string dataDir, string? keysFile,
        IReadOnlyDictionary<string, string>? env = null, IEnumerable<string>? args = null,
        IReadOnlyList<string>? command = null)
    {
        var info = new ProcessStartInfo(command is { Count: > 0 } ? command[0] : BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var name in KsanaVariables) info.Environment.Remove(name);
        info.Environment["PORT"] = port.ToString();
        info.Environment["DATA_DIR"] = dataDir;
        info.Environment["LOG_LEVEL"] = "Warning";
        if (keysFile is not null) info.Environment["AUTH_KEYS_FILE"] = keysFile;
        if (env is not null)
            foreach (var (k, v) in env) info.Environment[k] = v;
        if (command is not null)
            foreach (var a in command.Skip(1)) info.ArgumentList.Add(a);
        if (args is not null)
            foreach (var a in args) info.ArgumentList.Add(a);

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var launchedAt = DateTimeOffset.UtcNow;
        var ksana = new KsanaProcess(process, port, dataDir, launchedAt);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (ksana._stdout) ksana._stdout.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (ksana._stderr) ksana._stderr.Append(e.Data).Append('\n'); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return ksana;
    }

    /// <summary>Starts ksana (see <see cref="Launch"/>) and waits until it serves <c>GET /health</c>.</summary>
    public static async Task<KsanaProcess> StartAsync(int port, string dataDir, string? keysFile,
        IReadOnlyDictionary<string, string>? env = null, IEnumerable<string>? args = null,
        IReadOnlyList<string>? command = null)
    {
        var ksana = Launch(port, dataDir, keysFile, env, args, command);
        try
        {
            await ksana.WaitHealthyAsync(TimeSpan.FromSeconds(20));
            ksana.ReadyAt = DateTimeOffset.UtcNow;
            return ksana;
        }
        catch
        {
            await ksana.DisposeAsync();
            throw;
        }
    }

    public async Task WaitHealthyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(); // flushes the redirected output
                throw new InvalidOperationException($"ksana exited with code {_process.ExitCode} before serving /health\n{Output}");
            }
            try
            {
                using var response = await http.GetAsync("/health");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"ksana did not serve /health on port {Port} within {timeout}\n{Output}");
            await Task.Delay(25);
        }
    }

    /// <summary>Sends SIGTERM: the graceful stop of SPEC §1.</summary>
    public void Terminate() => Signal(SigTerm);

    public void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>SIGKILL: a crash the process cannot see coming.</summary>
    public void Kill9() => _process.Kill();

    /// <summary>Waits for the process to end and returns its exit code; kills it and throws past the timeout.</summary>
    public async Task<int> WaitExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
            throw new TimeoutException($"ksana did not exit within {timeout}\n{Output}");
        }
        await _process.WaitForExitAsync(); // flushes the redirected output
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, then the exit code (a graceful stop must end within the timeout).</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        Terminate();
        return await WaitExitAsync(timeout ?? TimeSpan.FromSeconds(15));
    }

    /// <summary>Runs ksana to completion (for flag and configuration checks).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExitAsync(
        string dataDir, int port, IReadOnlyDictionary<string, string>? env, IEnumerable<string>? args, TimeSpan timeout)
    {
        await using var ksana = Launch(port, dataDir, null, env, args);
        var code = await ksana.WaitExitAsync(timeout);
        return (code, ksana.Stdout, ksana.Stderr);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }

    public static int FreePort()
    {
        var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    static string FindBinary()
    {
        var fromEnv = Environment.GetEnvironmentVariable("KSANA_BIN");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            if (!File.Exists(fromEnv))
                throw new FileNotFoundException($"KSANA_BIN={fromEnv} does not exist; run ./build.sh publish", fromEnv);
            return Path.GetFullPath(fromEnv);
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "dist", "ksana");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException(
            "the published ksana binary was not found: set KSANA_BIN or run ./build.sh publish (looked for dist/ksana above "
            + AppContext.BaseDirectory + ")");
    }

    public const int SigHup = 1;
    public const int SigInt = 2;
    public const int SigTerm = 15;

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int sig);
}
