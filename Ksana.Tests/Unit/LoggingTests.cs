using Ksana.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ksana.Tests.Unit;

/// <summary>Which categories Ksana's logging lets through (Hosting/Logging.cs).</summary>
public class LoggingTests
{
    static ServiceProvider Logging(LogLevel level)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddKsanaLogging(new Settings { LogLevel = level }));
        return services.BuildServiceProvider();
    }

    [Test]
    [Arguments(LogLevel.Trace)]
    [Arguments(LogLevel.Information)]
    [Arguments(LogLevel.Warning)]
    public async Task Hosting_diagnostics_are_off_at_every_level_so_requests_start_no_activity(LogLevel level)
    {
        // While this logger is on at any level, ASP.NET Core starts a trace Activity for every
        // request (random ids and their hex strings) even with no listener; nothing reads it.
        using var provider = Logging(level);
        var factory = provider.GetRequiredService<ILoggerFactory>();
        await Assert.That(factory.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Critical)).IsFalse();
        // The framework's own problems and Ksana's lines still pass.
        await Assert.That(factory.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").IsEnabled(LogLevel.Warning)).IsTrue();
        await Assert.That(factory.CreateLogger("Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware").IsEnabled(LogLevel.Error)).IsTrue();
        await Assert.That(factory.CreateLogger("Ksana.Scheduling.Runner").IsEnabled(level)).IsTrue();
    }
}
