using Ksana.Hosting;
using Ksana.Storage;

// ksana: a self-hosted HTTP job scheduler. Contract: SPEC.md; how it is put together: README.md.
if (args is ["--help"] or ["-h"])
{
    Console.WriteLine(Settings.HelpText());
    return 0;
}
if (args is ["--version"])
{
    Console.WriteLine($"ksana {Settings.Version}");
    return 0;
}

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
