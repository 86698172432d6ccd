using System.Collections.Concurrent;

namespace Ksana.Scheduling;

/// <summary>
/// Cancellation sources kept for reuse. A source reset by <see cref="CancellationTokenSource.TryReset"/>
/// keeps its registration nodes, so a source taken again registers callbacks without allocating:
/// a new source per run or per attempt, with its registrations, was a tenth of what a callback allocated.
/// A source that was cancelled (or whose timer may have fired) cannot be reset and is let go.
/// </summary>
public sealed class SourcePool(Func<CancellationTokenSource> make, int max = SourcePool.DefaultMax)
{
    /// <summary>Most sources kept: more than this many in use at once make new ones.</summary>
    public const int DefaultMax = 1024;

    readonly ConcurrentQueue<CancellationTokenSource> _free = new();
    int _count;

    public CancellationTokenSource Rent()
    {
        if (!_free.TryDequeue(out var source)) return make();
        Interlocked.Decrement(ref _count);
        return source;
    }

    /// <summary>Gives back a source its user is done with: nobody may cancel it or hold its token any more.</summary>
    public void Return(CancellationTokenSource source)
    {
        if (!source.TryReset() || Volatile.Read(ref _count) >= max)
        {
            source.Dispose();
            return;
        }
        Interlocked.Increment(ref _count);
        _free.Enqueue(source);
    }
}
