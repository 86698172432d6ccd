using System.Net;
using System.Net.Sockets;

namespace Ksana.Http.Trust;

/// <summary>
/// Which addresses callbacks may reach (SPEC §10): OUTBOUND_DENY lists CIDR ranges and named
/// groups, OUTBOUND_ALLOW lists ranges let through even inside a denied one, and Ksana's own
/// listening port is denied on every local address whatever the lists say, so a job cannot make
/// Ksana call its own API with whatever headers the job carries.
/// The rule is applied to the address a connection is actually made to (see
/// <see cref="OutboundConnector"/>); <see cref="CheckUrl"/> only refuses the obvious case early.
/// </summary>
public sealed class OutboundPolicy
{
    /// <summary>A list longer than this is a mistake (or an attempt to make every connection slow).</summary>
    public const int EntriesMax = 256;

    public const string DefaultDeny = "link-local";

    /// <summary>
    /// The named groups. <c>loopback</c> also covers 0.0.0.0/8 and ::, because on Linux a
    /// connection to the unspecified address reaches this host just as 127.0.0.1 does.
    /// <c>link-local</c> also covers the cloud metadata services that live outside 169.254/16:
    /// AWS's IPv6 endpoint fd00:ec2::254 and Alibaba Cloud's 100.100.100.200.
    /// </summary>
    static readonly Dictionary<string, string[]> Groups = new(StringComparer.OrdinalIgnoreCase)
    {
        ["loopback"] = ["127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128"],
        ["private"] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"],
        ["link-local"] = ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32"],
    };

    readonly IPNetwork[] _deny;
    readonly IPNetwork[] _allow;
    readonly OwnEndpoints _own;

    OutboundPolicy(IPNetwork[] deny, IPNetwork[] allow, OwnEndpoints own)
    {
        _deny = deny;
        _allow = allow;
        _own = own;
    }

    /// <summary>
    /// The policy for the values of OUTBOUND_DENY (null: the default, <c>link-local</c>; empty or
    /// <c>none</c>: nothing) and OUTBOUND_ALLOW (null or empty: nothing). Returns null and sets
    /// <paramref name="error"/> to one line naming the variable and the bad entry.
    /// </summary>
    public static OutboundPolicy? Parse(string? deny, string? allow, OwnEndpoints own, out string error)
    {
        var denied = ParseList("OUTBOUND_DENY", deny ?? DefaultDeny, groups: true, out error);
        if (denied is null) return null;
        var allowed = ParseList("OUTBOUND_ALLOW", allow ?? "", groups: false, out error);
        if (allowed is null) return null;
        return new OutboundPolicy(denied, allowed, own);
    }

    /// <summary>
    /// Null when a connection to <paramref name="address"/>:<paramref name="port"/> may be made,
    /// else the error the run records: <c>blocked by OUTBOUND_DENY: &lt;address&gt;</c>.
    /// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
    /// </summary>
    public string? Check(IPAddress address, int port)
    {
        var ip = Normalise(address);
        if (_own.Covers(ip, port))
            return $"blocked by OUTBOUND_DENY: {Show(ip, port)} is Ksana's own listening port";
        return IsDenied(ip) ? $"blocked by OUTBOUND_DENY: {ip}" : null;
    }

    /// <summary>True when the ranges alone (not the own-port rule) keep callbacks from <paramref name="address"/>.</summary>
    public bool IsDenied(IPAddress address)
    {
        var ip = Normalise(address);
        foreach (var range in _allow)
            if (range.Contains(ip)) return false;
        foreach (var range in _deny)
            if (range.Contains(ip)) return true;
        return false;
    }

    /// <summary>
    /// The check at create and update time, for field <c>http.url</c>: null, or why a URL whose host
    /// is a literal address (in any spelling <see cref="Uri"/> understands: decimal, hex, octal,
    /// IPv4-mapped IPv6) may not be called. Host names are left to the connection-time check,
    /// since their addresses can change after the job is saved.
    /// </summary>
    public string? CheckUrl(Uri url)
    {
        if (!url.IsAbsoluteUri || LiteralAddress(url) is not { } address) return null;
        var blocked = Check(address, url.Port);
        return blocked is null ? null : $"cannot be called: {blocked}";
    }

    /// <summary>The address a URL's host spells literally, or null when the host is a name.</summary>
    public static IPAddress? LiteralAddress(Uri url)
    {
        var host = url.HostNameType switch
        {
            // Uri has already turned 2852039166, 0x7f000001 and 0177.0.0.1 into dotted quads.
            UriHostNameType.IPv4 => url.Host,
            // Host keeps the brackets and drops any zone ("%25eth0"): what is left parses.
            UriHostNameType.IPv6 => url.Host.Trim('[', ']'),
            // "169.254.169.254." is a DNS name to Uri but resolves to the address itself.
            UriHostNameType.Dns when url.Host.EndsWith('.') => url.Host.TrimEnd('.'),
            _ => null,
        };
        if (host is null) return null;
        if (url.HostNameType == UriHostNameType.Dns && !host.All(c => char.IsAsciiDigit(c) || c == '.'))
            return null;
        return IPAddress.TryParse(host, out var address) ? Normalise(address) : null;
    }

    /// <summary>IPv4-mapped IPv6 (::ffff:a.b.c.d) as the IPv4 address, and IPv6 without a zone, so one address has one spelling.</summary>
    public static IPAddress Normalise(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
            return new IPAddress(address.GetAddressBytes());
        return address;
    }

    static string Show(IPAddress ip, int port) =>
        ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ip}]:{port}" : $"{ip}:{port}";

    static IPNetwork[]? ParseList(string variable, string text, bool groups, out string error)
    {
        error = "";
        var ranges = new List<IPNetwork>();
        var entries = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (entries.Length > EntriesMax)
        {
            error = $"{variable}: {entries.Length} entries; at most {EntriesMax}";
            return null;
        }
        foreach (var entry in entries)
        {
            if (groups && entry.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                if (entries.Length == 1) break;
                error = $"{variable}: \"none\" cannot be combined with other entries";
                return null;
            }
            if (groups && Groups.TryGetValue(entry, out var members))
            {
                foreach (var member in members)
                    ranges.Add(Cidr.Parse(member, out _)!.Value);
                continue;
            }
            if (Cidr.Parse(entry, out var why) is not { } range)
            {
                var expected = groups ? "a CIDR range (like 10.0.0.0/8) or one of loopback, private, link-local, none" : "a CIDR range (like 192.168.1.20/32)";
                error = $"{variable}: \"{entry}\" {why}; expected {expected}";
                return null;
            }
            ranges.Add(range);
        }
        return ranges.ToArray();
    }
}
