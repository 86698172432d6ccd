using System.Runtime;

namespace Ksana.Storage;

/// <summary>
/// A stretch of work during which the GC does not collect, up to a budget of bytes (a no-GC region).
/// Replay allocates the whole table and keeps nearly all of it: every collection during it would
/// only mark and copy live objects, about a quarter of a start-up with 100 000 jobs. Past the budget
/// the GC collects as usual; a budget the runtime refuses (too large, or 0) means no region at all.
/// </summary>
public readonly struct NoCollection : IDisposable
{
    readonly bool _started;

    NoCollection(bool started) => _started = started;

    public static NoCollection For(long budgetBytes)
    {
        if (budgetBytes <= 0) return default;
        try
        {
            return new NoCollection(GC.TryStartNoGCRegion(budgetBytes));
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidOperationException)
        {
            return default;
        }
    }

    public void Dispose()
    {
        // A region that ran past its budget has already ended (the GC collected and left it).
        if (_started && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
    }
}
