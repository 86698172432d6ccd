using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace KsanaBench;

/// <summary>Talks to one running scheduler (Ksana or a peer) over its REST API.</summary>
sealed class Api : IDisposable
{
    public HttpClient Http { get; }
    public int Port { get; }
    static readonly MediaTypeHeaderValue Json = new("application/json");

    public Api(int port, string? apiKey, int maxConnections = 256)
    {
        Port = port;
        Http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxConnections,
            UseProxy = false,
            AllowAutoRedirect = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        if (apiKey is not null) Http.DefaultRequestHeaders.Add("X-API-Key", apiKey);
    }

    public void Dispose() => Http.Dispose();

    static readonly byte[] HealthRequest = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"u8.ToArray();

    /// <summary>
    /// One GET /health over a raw socket (no HttpClient: its first use costs tens of ms of JIT in
    /// this process, which would be charged to the server's start-up). True on a 200.
    /// </summary>
    public static bool ProbeHealth(int port)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            s.Connect(IPAddress.Loopback, port);
            s.ReceiveTimeout = 2000;
            s.SendTimeout = 2000;
            s.Send(HealthRequest);
            Span<byte> buf = stackalloc byte[64];
            int got = 0;
            while (got < 12)
            {
                int n = s.Receive(buf[got..]);
                if (n == 0) break;
                got += n;
            }
            return got >= 12 && buf[..12].SequenceEqual("HTTP/1.1 200"u8);
        }
        catch (SocketException) { return false; }
    }

    /// <summary>
    /// Polls GET /health about every millisecond until it answers 200; returns the seconds from
    /// <paramref name="since"/> (started just before exec), or null on timeout or process exit.
    /// Between probes it sleeps a millisecond rather than spinning: a spinning harness takes one of
    /// the machine's two cores away from the start-up it is timing.
    /// </summary>
    public static double? WaitReady(int port, Stopwatch since, Child child, TimeSpan timeout)
    {
        while (since.Elapsed < timeout)
        {
            var attempt = since.Elapsed;
            if (ProbeHealth(port)) return since.Elapsed.TotalSeconds;
            if (child.HasExited) return null;
            if (since.Elapsed < attempt + TimeSpan.FromMilliseconds(1)) Thread.Sleep(1);
        }
        return null;
    }

    public sealed record CreateOutcome(int Created, int Failed, double Seconds, List<string> Errors);

    /// <summary>
    /// Creates jobs 0..count-1 with <paramref name="concurrency"/> requests in flight, stopping at the
    /// deadline. Ids of 201 answers go to <paramref name="ids"/> when given, and the instant each
    /// request was sent (Unix ms) to <paramref name="sentAtMs"/>.
    /// </summary>
    public async Task<CreateOutcome> CreateMany(int count, Func<int, string> body, int concurrency, DateTime deadlineUtc,
        ConcurrentBag<string>? ids = null, int startIndex = 0, long[]? sentAtMs = null)
    {
        int next = startIndex - 1, created = 0, failed = 0;
        var errors = new List<string>();
        var sw = Stopwatch.StartNew();
        async Task Worker()
        {
            while (true)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= startIndex + count || DateTime.UtcNow > deadlineUtc) return;
                var json = body(i);
                if (sentAtMs is not null) sentAtMs[i - startIndex] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var (ok, id, err) = await CreateOne(json);
                if (ok)
                {
                    Interlocked.Increment(ref created);
                    if (ids is not null && id is not null) ids.Add(id);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                    lock (errors) if (errors.Count < 5) errors.Add(err ?? "?");
                    if (Volatile.Read(ref failed) > 100) return;
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
        return new CreateOutcome(created, failed, sw.Elapsed.TotalSeconds, errors);
    }

    public async Task<(bool Ok, string? Id, string? Error)> CreateOne(string json)
    {
        try
        {
            using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
            content.Headers.ContentType = Json;
            using var resp = await Http.PostAsync("/jobs", content);
            var bytes = await resp.Content.ReadAsByteArrayAsync();
            if (resp.StatusCode != HttpStatusCode.Created)
                return (false, null, $"{(int)resp.StatusCode} {Truncate(Encoding.UTF8.GetString(bytes))}");
            using var doc = JsonDocument.Parse(bytes);
            return (true, doc.RootElement.GetProperty("id").ToString(), null);
        }
        // A server killed mid-request can also surface as a bare socket or I/O error (kill -9 checks).
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException
                                  or SocketException or IOException or ObjectDisposedException)
        {
            return (false, null, e.GetType().Name + ": " + Truncate(e.Message));
        }
    }

    static string Truncate(string s) => s.Length > 300 ? s[..300] + "…" : s;

    /// <summary>Every job id, through GET /jobs pagination.</summary>
    public async Task<HashSet<string>> ListAllIds()
    {
        var ids = new HashSet<string>();
        string? cursor = null;
        for (int page = 0; page < 100_000; page++)
        {
            var url = "/jobs?limit=1000" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            using var resp = await Http.GetAsync(url);
            resp.EnsureSuccessStatusCode();
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsByteArrayAsync());
            foreach (var j in doc.RootElement.GetProperty("jobs").EnumerateArray())
                ids.Add(j.GetProperty("id").ToString());
            // SPEC §4 names it next_cursor; a camelCase nextCursor is accepted too so that a naming
            // slip in the server shows up as a finding rather than as a truncated listing.
            cursor = (doc.RootElement.TryGetProperty("next_cursor", out var c) || doc.RootElement.TryGetProperty("nextCursor", out c))
                && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            if (cursor is null) break;
        }
        return ids;
    }

    public async Task<HttpStatusCode> GetStatus(string path)
    {
        using var resp = await Http.GetAsync(path);
        return resp.StatusCode;
    }

    public async Task<string?> GetString(string path)
    {
        try
        {
            using var resp = await Http.GetAsync(path);
            return resp.IsSuccessStatusCode ? await resp.Content.ReadAsStringAsync() : null;
        }
        catch (HttpRequestException) { return null; }
    }
}
