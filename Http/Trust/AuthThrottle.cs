using System.Net;
using System.Net.Sockets;

namespace Ksana.Http.Trust;

/// <summary>
/// Failed authentication throttled per client address (SPEC §10): once an address has failed
/// <see cref="FailuresMax"/> times within <see cref="Window"/>, its requests without a valid key
/// get 429 until the oldest of those failures is a window old. The caller checks the key first,
/// so requests with a valid key, and other addresses, are never affected:
/// <code>
/// if (keys.Accepts(headers)) → next
/// else if (throttle.IsThrottled(ip, out var wait)) → 429, Retry-After: AuthThrottle.RetryAfterSeconds(wait)
/// else { throttle.RecordFailure(ip); → 401 }
/// </code>
/// Requests answered 429 are not recorded as failures, so a client that keeps guessing gets
/// exactly <see cref="FailuresMax"/> guesses per window and no more.
/// </summary>
/// <remarks>
/// System.Threading.RateLimiting was considered: a PartitionedRateLimiter of fixed windows keyed
/// by address could count only failures (acquire on failure, a zero-permit acquire to ask). It
/// was not used because its limiters read the system clock and replenish on their own timer (no
/// <see cref="TimeProvider"/>, so tests would sleep), it does not cap how many partitions it
/// holds, and a fixed window lets a client make twice the limit across a window boundary.
/// This is a sliding log instead: the times of each address's last <see cref="FailuresMax"/>
/// failures, in a ring.
/// IPv6 clients are tracked by their /64, the block one subscriber is normally given, since
/// stepping through addresses inside it costs an attacker nothing.
/// </remarks>
public sealed class AuthThrottle
{
    public const int FailuresMaxDefault = 30;
    public const int AddressesMaxDefault = 10_000;
    public static readonly TimeSpan WindowDefault = TimeSpan.FromMinutes(1);

    sealed class Client(IPAddress address, int failuresMax)
    {
        public readonly IPAddress Address = address;
        /// <summary>Timestamps (<see cref="TimeProvider.GetTimestamp"/>) of the last failures; <see cref="Next"/> is the oldest once full.</summary>
        public readonly long[] Failures = new long[failuresMax];
        public int Count;
        public int Next;
        public long Newest => Failures[(Next + Failures.Length - 1) % Failures.Length];
    }

    readonly TimeProvider _time;
    readonly Lock _lock = new();
    readonly Dictionary<IPAddress, LinkedListNode<Client>> _clients = [];

    /// <summary>Least recently failed first, so the address to forget when full is at the head.</summary>
    readonly LinkedList<Client> _byLastFailure = new();

    public AuthThrottle(TimeProvider time, int failuresMax = FailuresMaxDefault, TimeSpan? window = null, int addressesMax = AddressesMaxDefault)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failuresMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(addressesMax, 1);
        _time = time;
        FailuresMax = failuresMax;
        Window = window ?? WindowDefault;
        AddressesMax = addressesMax;
    }

    public int FailuresMax { get; }
    public TimeSpan Window { get; }

    /// <summary>At most this many addresses are remembered; the one whose last failure is oldest is forgotten first.</summary>
    public int AddressesMax { get; }

    /// <summary>How many addresses are remembered now.</summary>
    public int Count
    {
        get { lock (_lock) return _clients.Count; }
    }

    /// <summary>
    /// True when <paramref name="ip"/> has used up its failures; <paramref name="retryAfter"/> is
    /// then how long until the oldest of them leaves the window (else zero).
    /// </summary>
    public bool IsThrottled(IPAddress ip, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        var key = Key(ip);
        lock (_lock)
        {
            if (!_clients.TryGetValue(key, out var node)) return false;
            var client = node.Value;
            if (client.Count < FailuresMax) return false;
            var age = _time.GetElapsedTime(client.Failures[client.Next]);
            if (age >= Window) return false;
            retryAfter = Window - age;
            return true;
        }
    }

    /// <summary>Counts one failed authentication from <paramref name="ip"/>.</summary>
    public void RecordFailure(IPAddress ip)
    {
        var key = Key(ip);
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            ForgetQuiet();
            if (!_clients.TryGetValue(key, out var node))
            {
                if (_clients.Count >= AddressesMax)
                {
                    _clients.Remove(_byLastFailure.First!.Value.Address);
                    _byLastFailure.RemoveFirst();
                }
                node = _byLastFailure.AddLast(new Client(key, FailuresMax));
                _clients.Add(key, node);
            }
            else
            {
                _byLastFailure.Remove(node);
                _byLastFailure.AddLast(node);
            }
            var client = node.Value;
            client.Failures[client.Next] = now;
            client.Next = (client.Next + 1) % FailuresMax;
            client.Count = Math.Min(client.Count + 1, FailuresMax);
        }
    }

    /// <summary>Whole seconds for a <c>Retry-After</c> header: rounded up, and at least one.</summary>
    public static int RetryAfterSeconds(TimeSpan retryAfter) => Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));

    /// <summary>
    /// Drops addresses whose last failure has left the window: they can no longer be throttled,
    /// and their failures would not count. The list is in last-failure order, so this stops at
    /// the first address still inside the window and each address is dropped once: O(1) amortised.
    /// </summary>
    void ForgetQuiet()
    {
        while (_byLastFailure.First is { } oldest && _time.GetElapsedTime(oldest.Value.Newest) >= Window)
        {
            _clients.Remove(oldest.Value.Address);
            _byLastFailure.RemoveFirst();
        }
    }

    /// <summary>The address as tracked: IPv4-mapped IPv6 as IPv4, other IPv6 cut to its /64.</summary>
    static IPAddress Key(IPAddress ip)
    {
        ip = OutboundPolicy.Normalise(ip);
        if (ip.AddressFamily != AddressFamily.InterNetworkV6) return ip;
        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }
}
