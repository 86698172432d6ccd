using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KsanaBench;

/// <summary>
/// A callee that answers every request 2 s after it arrives (204, keep-alive) and logs nothing:
/// nginx cannot sleep, so the slow-callee scenarios point their slow jobs here. It counts the
/// requests it received and the most it held at once.
/// </summary>
sealed class SlowCallee : IDisposable
{
    public const int DelayMs = 2000;
    readonly TcpListener listener;
    readonly CancellationTokenSource cts = new();
    long requests;
    int inFlight, maxInFlight;

    public int Port { get; }

    public SlowCallee()
    {
        Port = RunningSystem.FreePort();
        listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Start(1024);
        _ = Task.Run(AcceptLoop);
    }

    public string Url(int job) => $"http://127.0.0.1:{Port}/slow/{job}";

    public long Requests => Interlocked.Read(ref requests);
    public int MaxInFlight => Volatile.Read(ref maxInFlight);

    /// <summary>Starts counting afresh (the measured window).</summary>
    public void ResetCounts()
    {
        Interlocked.Exchange(ref requests, 0);
        Volatile.Write(ref maxInFlight, Volatile.Read(ref inFlight));
    }

    async Task AcceptLoop()
    {
        while (!cts.IsCancellationRequested)
        {
            Socket s;
            try { s = await listener.AcceptSocketAsync(cts.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Serve(s));
        }
    }

    static readonly byte[] Response = "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"u8.ToArray();

    async Task Serve(Socket s)
    {
        s.NoDelay = true;
        var buf = new byte[8192];
        int have = 0;
        try
        {
            while (!cts.IsCancellationRequested)
            {
                // One request: headers up to the blank line (GETs, no body).
                int end;
                while ((end = HeaderEnd(buf, have)) < 0)
                {
                    if (have == buf.Length) return;
                    int n = await s.ReceiveAsync(buf.AsMemory(have), SocketFlags.None, cts.Token);
                    if (n == 0) return;
                    have += n;
                }
                Interlocked.Increment(ref requests);
                int now = Interlocked.Increment(ref inFlight);
                int seen;
                while (now > (seen = Volatile.Read(ref maxInFlight)) && Interlocked.CompareExchange(ref maxInFlight, now, seen) != seen) { }
                try
                {
                    await Task.Delay(DelayMs, cts.Token);
                    await s.SendAsync(Response, SocketFlags.None, cts.Token);
                }
                finally { Interlocked.Decrement(ref inFlight); }
                Buffer.BlockCopy(buf, end, buf, 0, have - end);
                have -= end;
            }
        }
        catch (Exception) { /* the client went away or the callee is stopping */ }
        finally { s.Dispose(); }
    }

    /// <summary>The offset just past "\r\n\r\n", or -1.</summary>
    static int HeaderEnd(byte[] buf, int len)
    {
        int i = buf.AsSpan(0, len).IndexOf("\r\n\r\n"u8);
        return i < 0 ? -1 : i + 4;
    }

    public void Dispose()
    {
        cts.Cancel();
        listener.Stop();
    }
}
