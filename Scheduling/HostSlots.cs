namespace Ksana.Scheduling;

/// <summary>
/// HOST_CONCURRENCY (SPEC §10): at most <see cref="PerHost"/> attempts in flight to one host, where a
/// host is the URL's scheme, host and port. The runner takes a host slot before a worker, so an attempt
/// held back by its host waits without holding one of the WORKERS, and a slow host cannot starve others.
/// </summary>
/// <remarks>
/// A host's entry lives only while an attempt holds or awaits its slot, so the map is bounded by the
/// runs in flight (one per job) and a host called once does not stay in memory.
/// </remarks>
public sealed class HostSlots(int perHost)
{
    internal sealed class Host(int slots)
    {
        public readonly SemaphoreSlim Slots = new(slots, slots);
        /// <summary>Attempts holding or awaiting a slot; guarded by the map's lock.</summary>
        public int Users;
    }

    readonly Lock _lock = new();
    readonly Dictionary<string, Host> _hosts = new(StringComparer.Ordinal);

    public int PerHost { get; } = perHost > 0 ? perHost : throw new ArgumentOutOfRangeException(nameof(perHost));

    /// <summary>Hosts with an attempt holding or awaiting a slot now.</summary>
    public int Count
    {
        get { lock (_lock) return _hosts.Count; }
    }

    /// <summary>"scheme://host:port", lower case; the URL as given when it does not parse (validation let it in, so it will).</summary>
    public static string KeyOf(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.IdnHost}:{uri.Port}" : url;

    /// <summary>
    /// Waits for a slot of <paramref name="key"/>'s host and returns the lease that gives it back.
    /// Throws <see cref="OperationCanceledException"/> when <paramref name="cancel"/> fires first.
    /// </summary>
    public async Task<Lease> AcquireAsync(string key, CancellationToken cancel)
    {
        Host host;
        lock (_lock)
        {
            if (!_hosts.TryGetValue(key, out host!)) _hosts.Add(key, host = new Host(PerHost));
            host.Users++;
        }
        try
        {
            await host.Slots.WaitAsync(cancel);
        }
        catch
        {
            Leave(key, host);
            throw;
        }
        return new Lease(this, key, host);
    }

    void Leave(string key, Host host)
    {
        lock (_lock)
            if (--host.Users == 0)
                _hosts.Remove(key);
    }

    /// <summary>One slot held; disposing gives it back (once).</summary>
    public sealed class Lease : IDisposable
    {
        HostSlots? _owner;
        readonly string _key;
        readonly Host _host;

        internal Lease(HostSlots owner, string key, Host host)
        {
            _owner = owner;
            _key = key;
            _host = host;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _owner, null) is not { } owner) return;
            _host.Slots.Release();
            owner.Leave(_key, _host);
        }
    }
}
