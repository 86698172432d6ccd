namespace Ksana.Operations;

/// <summary>
/// A Prometheus gauge: either a whole number kept here (<see cref="Increment"/>, <see cref="Set"/>:
/// one <see cref="Interlocked"/> operation each) or a callback read at scrape time
/// (<see cref="ReadFrom"/>), for values some other part of Ksana already knows, such as the
/// journal's size. A callback wins over the kept value.
/// </summary>
public sealed class Gauge(string name, string help)
{
    long _value;
    Func<double>? _read;

    public string Name { get; } = name;
    public string Help { get; } = help;

    public void Increment() => Interlocked.Increment(ref _value);
    public void Decrement() => Interlocked.Decrement(ref _value);
    public void Add(long delta) => Interlocked.Add(ref _value, delta);
    public void Set(long value) => Interlocked.Exchange(ref _value, value);

    /// <summary>From now on the gauge's value is whatever <paramref name="read"/> answers at scrape time.</summary>
    public void ReadFrom(Func<double> read) => Volatile.Write(ref _read, read);

    public double Value => Volatile.Read(ref _read) is { } read ? read() : Volatile.Read(ref _value);

    internal void WriteTo(MetricsWriter writer)
    {
        writer.Family(Name, Help, "gauge");
        writer.Sample(Name, null, null, null, Value);
    }
}
