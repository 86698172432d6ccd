namespace Ksana.Hosting;

/// <summary>One line per event on the console: plain text, or JSON lines when LOG_FORMAT=json.</summary>
public static class Logging
{
    public static ILoggingBuilder AddKsanaLogging(this ILoggingBuilder logging, Settings settings)
    {
        logging.ClearProviders();
        if (settings.LogFormat == "json")
            logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        else
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            });
        logging.SetMinimumLevel(settings.LogLevel);
        // Per-request framework logs would cost more than the requests; keep start/stop and problems.
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Its only own lines are per request (Information), and while any level of it is on, hosting
        // starts a trace Activity for every request (random ids, hex strings) that nothing reads.
        // Start-up failures it would also report are caught and printed by Program.cs.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        logging.AddFilter("Microsoft.Extensions.Http", LogLevel.Warning);
        logging.AddFilter("System.Net.Http", LogLevel.Warning);
        // Ksana records every attempt in the run itself; Polly's own per-retry events would repeat them.
        logging.AddFilter("Polly", LogLevel.None);
        logging.AddFilter("Microsoft.Hosting.Lifetime", settings.LogLevel);
        return logging;
    }
}
