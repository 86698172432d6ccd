using System.Net;
using System.Net.Sockets;
using System.Text;
using Ksana.Http.Trust;

namespace Ksana.Tests.Unit.Trust;

public class OutboundConnectorTests
{
    /// <summary>A bare HTTP/1.1 server on 127.0.0.1 that answers every request 200 and counts the connections it accepted.</summary>
    sealed class LoopbackListener : IAsyncDisposable
    {
        readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        readonly CancellationTokenSource _stop = new();
        readonly Task _loop;
        int _accepted;

        public LoopbackListener()
        {
            _listener.Start();
            _loop = Task.Run(ServeAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
        public int Accepted => Volatile.Read(ref _accepted);

        async Task ServeAsync()
        {
            try
            {
                while (true)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    Interlocked.Increment(ref _accepted);
                    var stream = client.GetStream();
                    var buffer = new byte[4096];
                    var seen = "";
                    while (!seen.Contains("\r\n\r\n"))
                    {
                        var n = await stream.ReadAsync(buffer, _stop.Token);
                        if (n == 0) break;
                        seen += Encoding.ASCII.GetString(buffer, 0, n);
                    }
                    await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray(), _stop.Token);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                // Stopping: whatever the accept or read was doing ends here.
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }

    static HttpClient Client(string? deny, string? allow = null, OwnEndpoints? own = null)
    {
        var policy = OutboundPolicy.Parse(deny, allow, own ?? OwnEndpoints.None, out var error) ?? throw new InvalidOperationException(error);
        var connector = new OutboundConnector(policy);
        return new HttpClient(new SocketsHttpHandler { ConnectCallback = connector.ConnectAsync, UseProxy = false, AllowAutoRedirect = false })
        {
            Timeout = TimeSpan.FromSeconds(10),
        };
    }

    [Test]
    public async Task A_name_that_resolves_to_a_denied_address_is_blocked_before_connecting()
    {
        await using var listener = new LoopbackListener();
        using var client = Client("loopback");
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync($"http://localhost:{listener.Port}/"));
        var blocked = OutboundBlockedException.In(e);
        await Assert.That(blocked).IsNotNull();
        await Assert.That(blocked!.Message).IsEqualTo("blocked by OUTBOUND_DENY: 127.0.0.1");
        await Assert.That(listener.Accepted).IsEqualTo(0);
    }

    [Test]
    public async Task Allow_lets_one_address_through_a_denied_range()
    {
        await using var listener = new LoopbackListener();
        using var client = Client("loopback", "127.0.0.1/32");
        using var response = await client.GetAsync($"http://localhost:{listener.Port}/");
        await Assert.That((int)response.StatusCode).IsEqualTo(200);
        await Assert.That(await response.Content.ReadAsStringAsync()).IsEqualTo("ok");
    }

    [Test]
    public async Task The_default_policy_reaches_loopback()
    {
        await using var listener = new LoopbackListener();
        using var client = Client(null);
        using var response = await client.GetAsync($"http://127.0.0.1:{listener.Port}/");
        await Assert.That((int)response.StatusCode).IsEqualTo(200);
    }

    [Test]
    [Arguments("http://127.0.0.1:{0}/")]
    [Arguments("http://[::ffff:127.0.0.1]:{0}/")]
    [Arguments("http://0x7f000001:{0}/")]
    [Arguments("http://2130706433:{0}/")]
    public async Task No_spelling_of_a_denied_literal_gets_through(string template)
    {
        await using var listener = new LoopbackListener();
        using var client = Client("loopback");
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(string.Format(template, listener.Port)));
        await Assert.That(OutboundBlockedException.In(e)?.Message).IsEqualTo("blocked by OUTBOUND_DENY: 127.0.0.1");
        await Assert.That(listener.Accepted).IsEqualTo(0);
    }

    [Test]
    public async Task Ksanas_own_port_is_blocked_whatever_the_lists_say()
    {
        await using var listener = new LoopbackListener();
        using var client = Client("none", "0.0.0.0/0", new OwnEndpoints([], [listener.Port]));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync($"http://localhost:{listener.Port}/"));
        await Assert.That(OutboundBlockedException.In(e)?.Message).IsEqualTo($"blocked by OUTBOUND_DENY: 127.0.0.1:{listener.Port} is Ksana's own listening port");
        await Assert.That(listener.Accepted).IsEqualTo(0);
    }

    [Test]
    public async Task A_refused_connection_is_an_ordinary_connection_error_not_a_block()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var client = Client(null);
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync($"http://127.0.0.1:{port}/"));
        await Assert.That(OutboundBlockedException.In(e)).IsNull();
        await Assert.That(e!.InnerException).IsTypeOf<SocketException>();
    }
}
