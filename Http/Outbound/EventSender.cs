using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Ksana.Records;
using Ksana.Scheduling;

namespace Ksana.Http.Outbound;

/*
 * Delivers Ksana's own events (SPEC §9) from the job outboxes to EVENTS_URL.
 *
 * An event is queued in its job's outbox, in the journal, in the same critical section as the run
 * that caused it (and before it), so an event whose run is on disk is delivered after a restart.
 * Each job's outbox is sent in order, one event at a time, so a job's run.failed always comes before
 * the job.paused it causes; different jobs are sent side by side (a few at once). A failed delivery
 * is retried on RETRY_BACKOFF doubling up to an hour, without giving up: at least once. Delivered
 * events leave the outbox through the journal too; a crash before that only sends one again.
 * Events have their own connection pool and never take a worker from the runs: a dead EVENTS_URL
 * cannot make a scheduled run late.
 */
public sealed class EventSender : BackgroundService
{
    const int JobsAtOnce = 4;

    readonly JobTable _table;
    readonly HttpMessageInvoker _client;
    readonly Uri _url;
    readonly TimeProvider _time;
    readonly ILogger _log;
    readonly TimeSpan _timeout;
    readonly TimeSpan _backoff;
    readonly string _userAgent;
    readonly Channel<Guid> _wake = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });
    readonly ConcurrentDictionary<Guid, bool> _busy = new();
    readonly SemaphoreSlim _parallel = new(JobsAtOnce, JobsAtOnce);

    public EventSender(JobTable table, HttpMessageHandler handler, Uri url, TimeProvider time, ILogger<EventSender> log,
        TimeSpan timeout, TimeSpan backoff, string userAgent)
    {
        _table = table;
        _client = new HttpMessageInvoker(handler);
        _url = url;
        _time = time;
        _log = log;
        _timeout = timeout;
        _backoff = backoff;
        _userAgent = userAgent;
        table.EventsQueued = id => _wake.Writer.TryWrite(id);
    }

    /// <summary>Adds the signature headers of SPEC §8 for (event id, unix seconds, body); null while signing is off.</summary>
    public Func<string, long, byte[], IEnumerable<KeyValuePair<string, string>>>? Sign { get; init; }

    /// <summary>Cluster mode: only the node that holds a job delivers its events; null: every job is this node's.</summary>
    public Func<Guid, bool>? Owns { get; set; }

    /// <summary>Wakes the delivery of a job's outbox (cluster mode: a job this node has just taken over).</summary>
    public void Wake(Guid jobId) => _wake.Writer.TryWrite(jobId);

    /// <summary>Events waiting in every outbox (a scan: for the metrics scrape, not a hot path).</summary>
    public long Pending => _table.Entries.Sum(e => (long)e.Outbox.Length);

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        // What a crash left in the outboxes goes first.
        foreach (var entry in _table.Entries)
            if (entry.Outbox.Length > 0 && Owns?.Invoke(entry.Job.Id) != false) _wake.Writer.TryWrite(entry.Job.Id);
        try
        {
            await foreach (var jobId in _wake.Reader.ReadAllAsync(stopping))
            {
                if (!_busy.TryAdd(jobId, true)) continue;
                await _parallel.WaitAsync(stopping);
                _ = DrainAsync(jobId, stopping);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    async Task DrainAsync(Guid jobId, CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested && _table.Get(jobId) is { Outbox: [var next, ..] })
            {
                // An event goes out only once its line is on disk (it rides the run records' batch,
                // at most a few ms): one a crash could take back is never sent.
                await _table.FlushAsync().WaitAsync(stopping);
                await DeliverAsync(next, stopping);
                _table.Delivered(jobId, next.Id);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ChangeLogUnavailableException e)
        {
            _log.LogError("Events of job {JobId}: could not record a delivery: {Error}", jobId, e.Message);
        }
        finally
        {
            _busy.TryRemove(jobId, out _);
            _parallel.Release();
            // An event queued while this job was being drained must not wait for the next one.
            if (!stopping.IsCancellationRequested && _table.Get(jobId) is { Outbox.Length: > 0 }) _wake.Writer.TryWrite(jobId);
        }
    }

    /// <summary>Posts one event until the endpoint takes it (a 2xx), waiting longer after each failure.</summary>
    async Task DeliverAsync(Event e, CancellationToken stopping)
    {
        var body = Body(e);
        for (var attempt = 1; ; attempt++)
        {
            var failure = await PostAsync(e, body, stopping);
            if (failure is null) return;
            var wait = RetryPolicy.Delay(_backoff, attempt, Random.Shared.NextDouble() * 2 - 1, null);
            _log.LogWarning("Event {EventId} ({Type}) not delivered to EVENTS_URL (attempt {Attempt}): {Error}; next try in {Seconds:0.#} s",
                e.IdText, e.Type, attempt, failure, wait.TotalSeconds);
            await Task.Delay(wait, _time, stopping);
        }
    }

    /// <summary>One POST; null when the endpoint took the event, else why not.</summary>
    async Task<string?> PostAsync(Event e, byte[] body, CancellationToken stopping)
    {
        using var timeout = new CancellationTokenSource(_timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        request.Headers.TryAddWithoutValidation("User-Agent", _userAgent);
        if (Sign?.Invoke(e.IdText, _time.GetUtcNow().ToUnixTimeSeconds(), body) is { } headers)
            foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        try
        {
            using var response = await _client.SendAsync(request, linked.Token);
            return response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !stopping.IsCancellationRequested))
        {
            // Expected failures of a delivery: the loop above waits and tries again.
            return ex is OperationCanceledException ? $"timeout after {_timeout.TotalMilliseconds:0}ms" : $"connection error: {ex.Message}";
        }
    }

    static byte[] Body(Event e)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer)) EventCodec.Write(w, e, withNulls: true);
        return buffer.WrittenSpan.ToArray();
    }
}
