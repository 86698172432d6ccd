using Microsoft.AspNetCore.Http;

namespace Ksana.Http.Trust;

/// <summary>
/// The <see cref="OutboundPolicy"/> in force. OUTBOUND_DENY and OUTBOUND_ALLOW are fixed at start-up,
/// but Ksana's own listening ports are only all known once Kestrel has bound them (a port of 0 picks
/// one), so the policy is built first from the configured ports and again from the bound ones.
/// The connector and the create-time check both read <see cref="Current"/>.
/// </summary>
public sealed class OutboundRules
{
    readonly string? _deny;
    readonly string? _allow;
    OutboundPolicy _current;

    OutboundRules(string? deny, string? allow, OutboundPolicy current)
    {
        _deny = deny;
        _allow = allow;
        _current = current;
    }

    public OutboundPolicy Current => Volatile.Read(ref _current);

    /// <summary>Null and <paramref name="error"/> (naming the variable) when a list is malformed.</summary>
    public static OutboundRules? Create(string? deny, string? allow, IEnumerable<int> ports, out string error)
    {
        var policy = OutboundPolicy.Parse(deny, allow, OwnEndpoints.Discover(ports), out error);
        return policy is null ? null : new OutboundRules(deny, allow, policy);
    }

    /// <summary>Rebuilds the policy for the ports Kestrel actually listens on, and this host's addresses now.</summary>
    public void Listening(IEnumerable<int> ports) =>
        Volatile.Write(ref _current, OutboundPolicy.Parse(_deny, _allow, OwnEndpoints.Discover(ports), out _) ?? _current);

    /// <summary>The ports named in PORT or in the listen URLs (ASPNETCORE_URLS / --urls); port 0 is left to <see cref="Listening"/>.</summary>
    public static IEnumerable<int> PortsOf(string? urls, int port)
    {
        if (urls is null) return [port];
        var ports = new List<int>();
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try
            {
                if (BindingAddress.Parse(url).Port is > 0 and var p) ports.Add(p);
            }
            catch (FormatException)
            {
                // Kestrel refuses it with its own message when it binds.
            }
        }
        return ports;
    }
}
