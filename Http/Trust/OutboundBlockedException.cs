namespace Ksana.Http.Trust;

/// <summary>
/// A callback connection refused by <see cref="OutboundPolicy"/>. The run path fails the run at
/// once, without retries: the same address would be refused every time. SocketsHttpHandler wraps
/// what a ConnectCallback throws in an <see cref="HttpRequestException"/> whose message adds
/// "(host:port)", so look for this one with <see cref="In"/> and record its <see cref="Exception.Message"/>.
/// </summary>
public sealed class OutboundBlockedException(string message) : Exception(message)
{
    /// <summary>The blocked-connection exception inside <paramref name="exception"/> (or it itself), or null.</summary>
    public static OutboundBlockedException? In(Exception? exception)
    {
        // Wrappers nest a few deep at most (HttpRequestException, a resilience wrapper); the bound
        // keeps a pathological cycle of inner exceptions from looping.
        for (var depth = 0; exception is not null && depth < 8; depth++, exception = exception.InnerException)
            if (exception is OutboundBlockedException blocked)
                return blocked;
        return null;
    }
}
