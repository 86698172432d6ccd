using System.Net;
using System.Net.NetworkInformation;

namespace Ksana.Http.Trust;

/// <summary>
/// Where Ksana itself listens: its ports, on this host's addresses. A callback to any of them is
/// refused (SPEC §10) whatever OUTBOUND_ALLOW says, since it would reach Ksana's own API.
/// Loopback (127.0.0.0/8, ::1) and the unspecified addresses (0.0.0.0, ::) count as local
/// whether or not they are in <see cref="Addresses"/>: each of them reaches a listener on all interfaces.
/// </summary>
public sealed class OwnEndpoints
{
    /// <summary>A host with more addresses than this is unusual; the rest are ignored rather than held.</summary>
    public const int AddressesMax = 1024;

    public static readonly OwnEndpoints None = new([], []);

    readonly HashSet<IPAddress> _addresses;
    readonly HashSet<int> _ports;

    public OwnEndpoints(IEnumerable<IPAddress> addresses, IEnumerable<int> ports)
    {
        _addresses = addresses.Select(OutboundPolicy.Normalise).Take(AddressesMax).ToHashSet();
        _ports = ports.ToHashSet();
    }

    public IReadOnlySet<IPAddress> Addresses => _addresses;
    public IReadOnlySet<int> Ports => _ports;

    /// <summary>
    /// This host's unicast addresses, read from its network interfaces now. Addresses can change
    /// (DHCP, a new interface); the caller may build a new policy from a fresh call when they do.
    /// </summary>
    public static OwnEndpoints Discover(IEnumerable<int> ports)
    {
        var addresses = new List<IPAddress>();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                    addresses.Add(unicast.Address);
        }
        catch (NetworkInformationException)
        {
            // Without the list, loopback and the unspecified addresses are still covered; the
            // host's other addresses then fall to OUTBOUND_DENY like any other.
        }
        return new OwnEndpoints(addresses, ports);
    }

    /// <summary>True when <paramref name="address"/> (already normalised) and <paramref name="port"/> would reach Ksana itself.</summary>
    public bool Covers(IPAddress address, int port) =>
        _ports.Contains(port)
        && (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)
            || _addresses.Contains(address));
}
