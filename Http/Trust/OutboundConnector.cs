using System.Net;
using System.Net.Sockets;

namespace Ksana.Http.Trust;

/// <summary>
/// The <see cref="SocketsHttpHandler.ConnectCallback"/> that enforces <see cref="OutboundPolicy"/> on
/// the address each connection is actually made to (SPEC §10). Resolving the name here, and
/// connecting to the very address that was checked, is what keeps a DNS answer that changes
/// between check and connect (rebinding) or an odd spelling of an address from getting around the rule.
/// The handler must keep <c>UseProxy = false</c>: through a proxy this callback would only see the proxy.
/// </summary>
public sealed class OutboundConnector(Func<OutboundPolicy> policy)
{
    /// <summary>A name with more addresses than this is tried only on its first ones; each failed try costs a connect timeout.</summary>
    public const int AddressesTriedMax = 8;

    public OutboundConnector(OutboundPolicy policy) : this(() => policy)
    {
    }

    /// <summary>Install as <c>new SocketsHttpHandler { ConnectCallback = connector.ConnectAsync, UseProxy = false, … }</c>.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var rules = policy();
        var host = context.DnsEndPoint.Host;
        var port = context.DnsEndPoint.Port;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);

        // Denied addresses are dropped and the rest tried in the resolver's order; only when
        // nothing is left is the attempt blocked, naming the first address that was refused.
        string? blocked = null;
        SocketException? failure = null;
        var tried = 0;
        foreach (var found in addresses)
        {
            var address = OutboundPolicy.Normalise(found);
            if (rules.Check(address, port) is { } why)
            {
                blocked ??= why;
                continue;
            }
            if (tried++ == AddressesTriedMax) break;
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                // Try the next address, as the default connect does; the last error is the one reported.
                socket.Dispose();
                failure = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        if (failure is not null) throw failure;
        throw blocked is not null
            ? new OutboundBlockedException(blocked)
            : new SocketException((int)SocketError.HostNotFound);
    }
}
