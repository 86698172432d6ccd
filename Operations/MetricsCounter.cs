namespace Ksana.Operations;

/// <summary>
/// A Prometheus counter, optionally split by one label with a small closed set of values (an enum's
/// names, say). Each value is one <see cref="long"/> bumped with <see cref="Interlocked"/>: no lock,
/// no allocation, no lookup on the hot path; the caller passes the label's index.
/// </summary>
public sealed class Counter
{
    // Each value sits on its own 64-byte cache line, so that two cores counting different labels
    // (successes on one, failures on the other) do not fight over one line.
    const int Stride = 8;

    readonly long[] _values;

    public Counter(string name, string help, string? labelName = null, string[]? labelValues = null)
    {
        if ((labelName is null) != (labelValues is null))
            throw new ArgumentException("a label needs both a name and its values", nameof(labelName));
        if (!name.EndsWith("_total", StringComparison.Ordinal))
            throw new ArgumentException($"counter {name} must end in _total", nameof(name));
        Name = name;
        Help = help;
        LabelName = labelName;
        LabelValues = labelValues ?? [""];
        _values = new long[LabelValues.Count * Stride];
    }

    public string Name { get; }
    public string Help { get; }
    public string? LabelName { get; }
    public IReadOnlyList<string> LabelValues { get; }

    public void Increment(int label = 0) => Interlocked.Increment(ref _values[label * Stride]);

    public void Add(long count, int label = 0)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "a counter only goes up");
        Interlocked.Add(ref _values[label * Stride], count);
    }

    public long Value(int label = 0) => Volatile.Read(ref _values[label * Stride]);

    internal void WriteTo(MetricsWriter writer)
    {
        writer.Family(Name, Help, "counter");
        for (var i = 0; i < LabelValues.Count; i++)
            writer.Sample(Name, null, LabelName, LabelValues[i], Value(i));
    }
}
