using Microsoft.Extensions.Time.Testing;

namespace Ksana.Tests.Support;

/// <summary>
/// Driving a server's <see cref="FakeTimeProvider"/> from a test. The server's waits (scheduler
/// ticks, retry delays, attempt timeouts) run on the fake clock; HTTP itself is real, so each step
/// gives the real work a moment before the clock moves again.
/// </summary>
public static class FakeClock
{
    /// <summary>A fake clock that starts at the real now, so times the server writes read normally.</summary>
    public static FakeTimeProvider AtNow() => new(DateTimeOffset.UtcNow);

    /// <summary>
    /// Moves the clock forward by <paramref name="step"/> until <paramref name="done"/> holds, at most
    /// by <paramref name="max"/>; true when it held. Before each step the real work started by the
    /// previous one gets up to <paramref name="settle"/> (default 50 ms) of real time to show.
    /// </summary>
    public static async Task<bool> AdvanceUntilAsync(this FakeTimeProvider clock, Func<bool> done, TimeSpan step, TimeSpan max,
        TimeSpan? settle = null)
    {
        for (var moved = TimeSpan.Zero; ; moved += step)
        {
            if (await Poll.Until(done, settle ?? TimeSpan.FromMilliseconds(50))) return true;
            if (moved >= max) return false;
            clock.Advance(step);
        }
    }
}
