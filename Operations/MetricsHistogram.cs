namespace Ksana.Operations;

/// <summary>
/// A Prometheus histogram of durations in seconds, with fixed buckets. Observing is lock-free: a
/// short scan of the bucket bounds (kept as ticks, so the comparison is on whole numbers), one
/// <see cref="Interlocked"/> increment of that bucket's own count and one <see cref="Interlocked"/>
/// add to the sum, which is kept exactly in ticks (100 ns) rather than as a drifting double.
/// Counts are per bucket here and made cumulative when written.
/// </summary>
public sealed class Histogram
{
    readonly long[] _boundTicks;
    readonly double[] _boundSeconds;
    // One count per bound plus the overflow (+Inf), each on its own cache line.
    const int Stride = 8;
    readonly long[] _counts;
    long _sumTicks;

    public Histogram(string name, string help, double[] boundsSeconds)
    {
        if (!name.EndsWith("_seconds", StringComparison.Ordinal))
            throw new ArgumentException($"histogram {name} measures time and must end in _seconds", nameof(name));
        if (boundsSeconds.Length == 0) throw new ArgumentException("a histogram needs buckets", nameof(boundsSeconds));
        for (var i = 1; i < boundsSeconds.Length; i++)
            if (boundsSeconds[i] <= boundsSeconds[i - 1])
                throw new ArgumentException("bucket bounds must increase", nameof(boundsSeconds));
        Name = name;
        Help = help;
        _boundSeconds = boundsSeconds;
        _boundTicks = Array.ConvertAll(boundsSeconds, s => (long)Math.Round(s * TimeSpan.TicksPerSecond));
        _counts = new long[(boundsSeconds.Length + 1) * Stride];
    }

    public string Name { get; }
    public string Help { get; }

    /// <summary>Records one duration. A negative one (a clock step) counts as zero, so the sum never goes down.</summary>
    public void Observe(TimeSpan duration)
    {
        var ticks = duration.Ticks < 0 ? 0 : duration.Ticks;
        var bounds = _boundTicks;
        var i = 0;
        while (i < bounds.Length && ticks > bounds[i]) i++;
        Interlocked.Increment(ref _counts[i * Stride]);
        Interlocked.Add(ref _sumTicks, ticks);
    }

    public long Count
    {
        get
        {
            long count = 0;
            for (var i = 0; i <= _boundTicks.Length; i++) count += Volatile.Read(ref _counts[i * Stride]);
            return count;
        }
    }

    public double SumSeconds => (double)Volatile.Read(ref _sumTicks) / TimeSpan.TicksPerSecond;

    internal void WriteTo(MetricsWriter writer)
    {
        writer.Family(Name, Help, "histogram");
        // Read each bucket once, so that _count is exactly the +Inf bucket even while observations land.
        long cumulative = 0;
        for (var i = 0; i < _boundSeconds.Length; i++)
        {
            cumulative += Volatile.Read(ref _counts[i * Stride]);
            writer.Bucket(Name, _boundSeconds[i], cumulative);
        }
        cumulative += Volatile.Read(ref _counts[_boundSeconds.Length * Stride]);
        writer.Bucket(Name, double.PositiveInfinity, cumulative);
        writer.Sample(Name, "_sum", null, null, SumSeconds);
        writer.Sample(Name, "_count", null, null, cumulative);
    }
}
