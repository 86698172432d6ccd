using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ksana.Tests.Support;

/// <summary>Keeps every formatted log line ("Level: text"), so a test can read what was logged.</summary>
public sealed class CapturingLogger<T> : ILogger<T>
{
    public readonly ConcurrentQueue<string> Lines = new();
    public LogLevel MinimumLevel { get; init; } = LogLevel.Trace;
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel >= MinimumLevel;
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    public string All => string.Join('\n', Lines);
}
