// A spike for issue 9, not part of Ksana: what a callback costs in .NET when one event loop thread
// plans the slots, sends the requests and reads the answers itself (HTTP/1.1 on raw sockets and
// epoll, no HttpClient), keeps a run row per job and hands a journal line per run to a writer
// thread that writes and fdatasyncs every 5 ms. It takes bench/floor/floor.c's arguments, so the
// bench measures it in the floor's place (BENCH_FLOOR_BIN, bench/README.md).
//
// What it leaves out of a real delivery path: TLS, chunked answers, DNS, OUTBOUND_DENY, timeouts,
// retries, signing, metrics, the API's writers on the same table, and any allocation made per run.
// What it keeps: a plan (a priority queue of due times), Ksana's request headers with a fresh
// UUIDv7 run id per call, answers parsed up to their Content-Length, a row per run in a ring of 23
// per job, and a CRC-checked JSON line per run, synced in batches.
//
// usage: evloop PORT JOBS spread|aligned ORIGIN_MS UNTIL_MS CONNS
using System.Buffers.Text;
using System.IO.Hashing;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

static unsafe partial class Spike
{
    [LibraryImport("libc", SetLastError = true)] private static partial int epoll_create1(int flags);
    [LibraryImport("libc", SetLastError = true)] private static partial int epoll_ctl(int ep, int op, int fd, EpollEvent* ev);
    [LibraryImport("libc", SetLastError = true)] private static partial int epoll_wait(int ep, EpollEvent* events, int max, int timeoutMs);
    [LibraryImport("libc", SetLastError = true)] private static partial nint read(int fd, byte* buffer, nint count);
    [LibraryImport("libc", SetLastError = true)] private static partial nint write(int fd, byte* buffer, nint count);
    [LibraryImport("libc", SetLastError = true)] private static partial int fdatasync(int fd);

    const int EpollIn = 1, EpollCtlAdd = 1, EpollCloexec = 0x80000;

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    struct EpollEvent { public uint Events; public ulong Data; }

    struct Row { public Guid RunId; public long ScheduledMs; public int StartedMs, DurationMs; public short Status; }

    sealed class Job
    {
        public Guid Id;
        public byte[] Head = [];
        public readonly Row[] Ring = new Row[23];
        public int Written;
    }

    sealed class Conn
    {
        public Socket Socket = null!;
        public int Fd;
        public readonly byte[] Buffer = new byte[4096];
        public int Have;
        public Job? Job;
        public Guid RunId;
        public long ScheduledMs, StartedMs;
    }

    static int _port;
    static readonly Lock JournalLock = new();
    static byte[] _journal = new byte[1 << 20];
    static byte[] _spare = new byte[1 << 20];
    static int _journalLength;
    static long _seq;
    static bool _stopping;

    static int Main(string[] args)
    {
        if (args.Length != 6) { Console.Error.WriteLine("usage: evloop PORT JOBS spread|aligned ORIGIN_MS UNTIL_MS CONNS"); return 2; }
        _port = int.Parse(args[0]);
        var count = int.Parse(args[1]);
        var aligned = args[2] == "aligned";
        long origin = long.Parse(args[3]), until = long.Parse(args[4]);
        var conns = int.Parse(args[5]);

        var plan = new PriorityQueue<Job, long>(count);
        for (var i = 0; i < count; i++)
        {
            var phase = aligned ? 0 : (int)((long)i * 1000 / count);
            var job = new Job { Id = Guid.CreateVersion7() };
            job.Head = Encoding.ASCII.GetBytes(
                $"GET /hook/{i}/{phase}/1000 HTTP/1.1\r\nHost: 127.0.0.1:{_port}\r\nUser-Agent: ksana/0.1.0\r\nX-Ksana-Job-Id: {job.Id}\r\n");
            plan.Enqueue(job, origin + phase);
        }
        var ep = epoll_create1(EpollCloexec);
        var all = new Conn[conns];
        var idle = new Stack<Conn>(conns);
        for (var i = 0; i < conns; i++) idle.Push(all[i] = Open(ep, i));
        var journalPath = Path.Combine(Path.GetTempPath(), $"evloop-{Environment.ProcessId}.jsonl");
        var writer = new Thread(() => WriteJournal(journalPath)) { IsBackground = true, Name = "journal" };
        writer.Start();

        long sent = 0, answered = 0, reconnects = 0;
        var request = new byte[512];
        var events = stackalloc EpollEvent[256];
        while (true)
        {
            var now = NowMs();
            if (now >= until && (idle.Count == conns || now >= until + 5000)) break;
            // Every call due by now, while a connection is free.
            while (idle.Count > 0 && plan.TryPeek(out var job, out var due) && due <= now && due < until)
            {
                plan.DequeueEnqueue(job, due + 1000);
                var c = idle.Pop();
                c.Job = job;
                c.RunId = Guid.CreateVersion7();
                c.ScheduledMs = due;
                c.StartedMs = now;
                c.Have = 0;
                var n = job.Head.Length;
                job.Head.CopyTo(request, 0);
                n += Ascii(request.AsSpan(n), "X-Ksana-Run-Id: ");
                c.RunId.TryFormat(request.AsSpan(n), out var w);
                n += w;
                n += Ascii(request.AsSpan(n), "\r\nX-Ksana-Attempt: 1\r\n\r\n");
                fixed (byte* p = request)
                    if (write(c.Fd, p, n) != n) { Console.Error.WriteLine($"evloop: write: {Marshal.GetLastPInvokeError()}"); return 1; }
                sent++;
            }
            var next = plan.TryPeek(out _, out var nextDue) ? nextDue : long.MaxValue;
            var timeout = next >= until ? (now >= until ? 100 : (int)Math.Min(100, until - now))
                : idle.Count == 0 ? 100 : (int)Math.Clamp(next - now, 0, 100);
            var ready = epoll_wait(ep, events, 256, timeout);
            for (var i = 0; i < ready; i++)
            {
                var index = (int)events[i].Data;
                var c = all[index];
                nint r;
                fixed (byte* p = c.Buffer) r = read(c.Fd, p + c.Have, c.Buffer.Length - c.Have);
                if (r <= 0)
                {
                    // The callee closed the connection: the call in flight on it is lost, as in the floor.
                    c.Socket.Dispose();
                    idle.Push(all[index] = Open(ep, index));
                    reconnects++;
                    continue;
                }
                c.Have += (int)r;
                var end = c.Buffer.AsSpan(0, c.Have).IndexOf("\r\n\r\n"u8);
                if (end < 0) continue;
                var head = c.Buffer.AsSpan(0, end);
                var status = (short)((head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0'));
                var length = head.IndexOf("\r\nContent-Length: "u8);
                var body = 0;
                if (length >= 0) Utf8Parser.TryParse(head[(length + 18)..], out body, out _);
                if (c.Have < end + 4 + body) continue;
                answered++;
                Finish(c, status, NowMs());
                idle.Push(c);
            }
        }
        lock (JournalLock) _stopping = true;
        writer.Join();
        File.Delete(journalPath);
        Console.WriteLine($"evloop: {sent} calls made, {answered} answered, {reconnects} reconnects");
        return 0;
    }

    static int Ascii(Span<byte> into, string text)
    {
        for (var i = 0; i < text.Length; i++) into[i] = (byte)text[i];
        return text.Length;
    }

    /// <summary>The run's row in its job's ring, and its journal line (written by the journal thread).</summary>
    static void Finish(Conn c, short status, long nowMs)
    {
        var job = c.Job!;
        var row = new Row { RunId = c.RunId, ScheduledMs = c.ScheduledMs, StartedMs = (int)(c.StartedMs - c.ScheduledMs), DurationMs = (int)(nowMs - c.StartedMs), Status = status };
        job.Ring[job.Written++ % job.Ring.Length] = row;
        lock (JournalLock)
        {
            if (_journal.Length - _journalLength < 1024) Array.Resize(ref _journal, _journal.Length * 2);
            var s = _journal.AsSpan(_journalLength);
            var n = Ascii(s, "{\"seq\":");
            Utf8Formatter.TryFormat(++_seq, s[n..], out var w); n += w;
            n += Ascii(s[n..], ",\"op\":\"run\",\"run\":{\"run_id\":\"");
            c.RunId.TryFormat(s[n..], out w); n += w;
            n += Ascii(s[n..], "\",\"job_id\":\"");
            job.Id.TryFormat(s[n..], out w); n += w;
            n += Ascii(s[n..], "\",\"trigger\":\"schedule\",\"status\":\"succeeded\",\"scheduled_at\":\"");
            n += Time(s[n..], c.ScheduledMs);
            n += Ascii(s[n..], "\",\"finished_at\":\"");
            n += Time(s[n..], nowMs);
            n += Ascii(s[n..], "\",\"attempts\":[{\"n\":1,\"started_at\":\"");
            n += Time(s[n..], c.StartedMs);
            n += Ascii(s[n..], "\",\"duration_ms\":");
            Utf8Formatter.TryFormat(row.DurationMs, s[n..], out w); n += w;
            n += Ascii(s[n..], ",\"status_code\":");
            Utf8Formatter.TryFormat((int)status, s[n..], out w); n += w;
            n += Ascii(s[n..], "}]},\"crc\":\"");
            Crc32.HashToUInt32(s[..n]).TryFormat(s[n..], out w, "x8"); n += w;
            n += Ascii(s[n..], "\"}\n");
            _journalLength += n;
        }
    }

    static int Time(Span<byte> into, long unixMs)
    {
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.TryFormat(into, out var w, "yyyy-MM-ddTHH:mm:ss.fffZ");
        return w;
    }

    /// <summary>Every 5 ms: the lines queued since, written and synced (Ksana's lazy batch).</summary>
    static void WriteJournal(string path)
    {
        using var file = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        var fd = (int)file.DangerousGetHandle();
        while (true)
        {
            Thread.Sleep(5);
            byte[] batch;
            int length;
            bool stop;
            lock (JournalLock)
            {
                (batch, length, stop) = (_journal, _journalLength, _stopping);
                (_journal, _journalLength, _spare) = (_spare, 0, batch);
            }
            if (length > 0)
            {
                fixed (byte* p = batch) write(fd, p, length);
                fdatasync(fd);
            }
            if (stop) return;
        }
    }

    static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    static Conn Open(int ep, int index)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, _port));
        var c = new Conn { Socket = socket, Fd = (int)socket.Handle };
        var ev = new EpollEvent { Events = EpollIn, Data = (ulong)index };
        if (epoll_ctl(ep, EpollCtlAdd, c.Fd, &ev) != 0) throw new IOException($"epoll_ctl: {Marshal.GetLastPInvokeError()}");
        return c;
    }
}
