using System.Diagnostics;
using Npgsql;

namespace Ksana.Tests.Support;

/// <summary>
/// A real PostgreSQL server for the cluster tests (SPEC §12), from the Debian package: initdb'd in a
/// private temporary directory, listening on a free loopback port and a private socket directory,
/// run as an unprivileged user (PostgreSQL refuses root; as root the tests use <c>nobody</c>), and
/// stopped after. <see cref="Shared"/> is one server for the whole run, one database per test;
/// a test that stops the server (an outage) starts its own.
/// </summary>
public sealed class Postgres : IAsyncDisposable
{
    const string User = "nobody";
    static readonly Lazy<Task<Postgres>> SharedServer = new(() => StartAsync());

    readonly string _root;
    readonly string _bin;

    Postgres(string root, string bin, int port)
    {
        _root = root;
        _bin = bin;
        Port = port;
    }

    public int Port { get; }
    public string DataDir => Path.Combine(_root, "data");
    public string SocketDir => _root;

    public static Task<Postgres> Shared => SharedServer.Value;

    /// <summary>Where initdb and pg_ctl are: the newest /usr/lib/postgresql/N/bin, or PATH.</summary>
    public static string? BinDir()
    {
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            var newest = Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(d => File.Exists(Path.Combine(d.Dir, "bin", "initdb")))
                .OrderByDescending(d => d.Version).FirstOrDefault();
            if (newest.Dir is not null) return Path.Combine(newest.Dir, "bin");
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, "initdb"))) return dir;
        return null;
    }

    static bool IsRoot => Environment.UserName == "root";

    public static async Task<Postgres> StartAsync()
    {
        var bin = BinDir() ?? throw new InvalidOperationException(
            "PostgreSQL is not installed (initdb not found): apt-get install postgresql, or run ./build.sh test as root");
        var root = Path.Combine(Path.GetTempPath(), $"ksana-pg-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(root);
        if (IsRoot) await RunAsync("chown", [User, root]);
        var pg = new Postgres(root, bin, KsanaProcess.FreePort());
        var (code, output) = await pg.PgAsync("initdb", ["-D", pg.DataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        if (code != 0) throw new InvalidOperationException($"initdb failed ({code}):\n{output}");
        await pg.StartAgainAsync();
        return pg;
    }

    /// <summary>Starts the server (again, after <see cref="StopAsync"/>) on the same port and data.</summary>
    public async Task StartAgainAsync()
    {
        var (code, output) = await PgAsync("pg_ctl", ["-D", DataDir, "-l", Path.Combine(_root, "log"), "-w", "-t", "60", "-o",
            $"-p {Port} -k {SocketDir} -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=32MB", "start"]);
        if (code != 0)
            throw new InvalidOperationException($"pg_ctl start failed ({code}):\n{output}\n{(File.Exists(Path.Combine(_root, "log")) ? File.ReadAllText(Path.Combine(_root, "log")) : "")}");
    }

    /// <summary>Stops the server at once (connections cut), as an outage would.</summary>
    public async Task StopAsync()
    {
        await PgAsync("pg_ctl", ["-D", DataDir, "-m", "immediate", "-w", "stop"]);
    }

    /// <summary>A fresh, empty database; its URL for DATABASE_URL.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"t{Guid.NewGuid():N}"[..16];
        await using var conn = new NpgsqlConnection($"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false");
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", conn);
        await cmd.ExecuteNonQueryAsync();
        return Url(name);
    }

    public string Url(string database) => $"postgres://postgres@127.0.0.1:{Port}/{database}";

    /// <summary>Runs one SQL query on <paramref name="url"/>'s database and returns the first column of each row.</summary>
    public static async Task<List<object?>> QueryAsync(string url, string sql)
    {
        await using var db = new NpgsqlDataSourceBuilder(Cluster.DatabaseUrl.ConnectionString(url)).Build();
        await using var cmd = db.CreateCommand(sql);
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<object?>();
        while (await reader.ReadAsync()) rows.Add(reader.IsDBNull(0) ? null : reader.GetValue(0));
        return rows;
    }

    async Task<(int Code, string Output)> PgAsync(string tool, string[] args) =>
        IsRoot
            ? await RunAsync("runuser", ["-u", User, "--", Path.Combine(_bin, tool), .. args])
            : await RunAsync(Path.Combine(_bin, tool), args);

    static async Task<(int Code, string Output)> RunAsync(string file, string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Stops the shared server when the test run ends (if a test started it).</summary>
    [After(TestSession)]
    public static async Task StopShared()
    {
        if (SharedServer.IsValueCreated && SharedServer.Value.IsCompletedSuccessfully) await (await SharedServer.Value).DisposeAsync();
    }
}
