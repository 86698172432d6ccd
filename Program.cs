using Ksana.Hosting;
using Ksana.Storage;

// ksana: a self-hosted HTTP job scheduler. Contract: SPEC.md; how it is put together: README.md.
KsanaHost.StartedAt = System.Diagnostics.Stopwatch.GetTimestamp();

// Socket completions run on the epoll thread instead of hopping to the thread pool: nothing Ksana
// does on a completion blocks. A/B on a loaded 2-core box: ~8% less CPU per callback. Set =0 to undo.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
if (args is ["--help"] or ["-h"])
{
    Console.WriteLine(Settings.HelpText());
    return 0;
}
if (args is ["migrate", ..])
    return await Ksana.Cluster.Migration.RunAsync(args[1..], Console.Out, Console.Error);
if (args is ["--version"])
{
    Console.WriteLine($"ksana {Settings.Version} (tz data {Ksana.Scheduling.Cron.TimeZones.DataVersion})");
    return 0;
}

// Loading OpenSSL, which the API keys' digests need before the first request is served, takes
// ~8 ms of a start-up: it is done on another core while this one builds the host (not for the
// commands above, which never serve).
new Thread(static () => System.Security.Cryptography.SHA256.HashData(ReadOnlySpan<byte>.Empty)) { IsBackground = true }.Start();

var settings = Settings.Load(args, Environment.GetEnvironmentVariables(), out var error);
if (settings is null)
{
    Console.Error.WriteLine($"ksana: {error}");
    return 2;
}

try
{
    await using var app = KsanaHost.Build(settings);
    await app.RunAsync();
    return 0;
}
catch (StartupException e)
{
    Console.Error.WriteLine($"ksana: {e.Message}");
    return 1;
}
catch (IOException e) when (e.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
{
    Console.Error.WriteLine($"ksana: cannot listen: {e.Message}");
    return 1;
}
