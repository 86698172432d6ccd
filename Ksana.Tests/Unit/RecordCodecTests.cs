using System.Buffers;
using System.IO.Hashing;
using System.Text;
using Ksana.Records;
using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Tests.Unit;

/// <summary>Each journal record kind read back exactly as written, and the first journal format still read.</summary>
public class RecordCodecTests
{
    static readonly DateTimeOffset T = new(2030, 1, 2, 3, 4, 5, 678, TimeSpan.Zero);

    static Change RoundTrip(Change change)
    {
        var buffer = new ArrayBufferWriter<byte>();
        new LineEncoder().Write(buffer, 7, change);
        var line = buffer.WrittenSpan[..^1];
        if (!LineEncoder.Verify(line)) throw new InvalidOperationException("checksum");
        var (seq, decoded) = LineDecoder.Decode(line);
        return seq == 7 ? decoded : throw new InvalidOperationException("seq");
    }

    [Test]
    public async Task A_job_of_every_kind_with_every_option()
    {
        var options = new ScheduleOptions(T, T.AddDays(30), Duration.FromSeconds(1), Duration.FromSeconds(3600));
        Duration.TryParse("1.9999999999s", out var every, out _);
        var specs = new[]
        {
            Rig.Every(TimeSpan.FromMinutes(1)) with
            {
                Schedule = new EverySchedule(every, options),
                Http = new HttpTarget("PUT", "https://example.com/x?y=1", [new("X-A", "1"), new("Content-Type", "application/json")], "{\"a\":\"{{run_id}}\"}"),
                Timeout = new Duration(1_500_000_001),
            },
            Rig.Once(T) with { Schedule = new OnceSchedule(T, ScheduleOptions.None with { CatchUp = Duration.FromSeconds(60) }), Enabled = false },
            Rig.Cron("30 2 * * MON-FRI", "Europe/Berlin", options),
            Rig.Cron("@daily"),
        };
        foreach (var spec in specs)
        {
            var job = new Job(Guid.NewGuid(), spec, T, T.AddSeconds(1), T.AddSeconds(2), OnceOutcome.Fired, 0);
            var back = RoundTrip(Change.Written(job)).Job!;
            // The version is not written: the reader gives a job its line's sequence number.
            await Assert.That(back).IsEqualTo(job with { Version = 7 });
        }
    }

    [Test]
    public async Task A_run_with_attempts_and_a_delete()
    {
        var run = new Run(Guid.NewGuid(), Guid.NewGuid(), RunTrigger.Manual, RunStatus.Failed, T, T.AddSeconds(3),
            [new Attempt(1, T, 12, 503, null), new Attempt(2, T.AddSeconds(1), 10_000, null, "timeout after 10000ms")], "HTTP 503: retries used up after 2 attempts");
        var back = RoundTrip(Change.Recorded(run)).Run!;
        await Assert.That(back with { Attempts = [] }).IsEqualTo(run with { Attempts = [] });
        await Assert.That(back.Attempts).IsEquivalentTo(run.Attempts);
        var id = Guid.NewGuid();
        await Assert.That(RoundTrip(Change.Removed(id))).IsEqualTo(Change.Removed(id));
    }

    [Test]
    public async Task A_job_line_leaves_out_the_members_at_their_default_and_reads_back_the_same()
    {
        var job = new Job(Guid.NewGuid(), Rig.Every(TimeSpan.FromMinutes(1)) with { MaxRetries = 0 }, T, T, T, OnceOutcome.Pending, 0);
        var buffer = new ArrayBufferWriter<byte>();
        new LineEncoder().Write(buffer, 7, Change.Written(job));
        var line = Encoding.UTF8.GetString(buffer.WrittenSpan);
        foreach (var member in new[] { "\"key\"", "\"headers\"", "\"body\"", "\"max_retries\"", "\"pause_after_failures\"", "\"once\"" })
            await Assert.That(line).DoesNotContain(member);
        await Assert.That(RoundTrip(Change.Written(job)).Job!).IsEqualTo(job with { Version = 7 });
        // Not at their default, they are written.
        var full = job with
        {
            Spec = job.Spec with { Key = "k", MaxRetries = 2, PauseAfterFailures = 1, Http = new HttpTarget("POST", "http://127.0.0.1:1/x", [new("X-A", "1")], "b") },
            Once = OnceOutcome.Missed,
        };
        await Assert.That(RoundTrip(Change.Written(full)).Job!).IsEqualTo(full with { Version = 7 });
    }

    [Test]
    public async Task A_job_whose_members_come_in_another_order_or_escaped_reads_the_same()
    {
        var job = new Job(Guid.NewGuid(), Rig.Every(TimeSpan.FromMinutes(1)) with { Key = "k", PauseAfterFailures = 3 }, T, T.AddSeconds(1), T.AddSeconds(2), OnceOutcome.Pending, 0)
        {
            PausedReason = "paused after 3 failed runs",
            FailureStreak = 4,
            StreakAtResume = 1,
        };
        var buffer = new ArrayBufferWriter<byte>();
        new LineEncoder().Write(buffer, 7, Change.Written(job));
        var written = Encoding.UTF8.GetString(buffer.WrittenSpan[..^1]);
        var record = written[written.IndexOf("{\"id\"", StringComparison.Ordinal)..written.LastIndexOf(",\"crc\"", StringComparison.Ordinal)];
        // The same members, last ones first; a member name and the method written with escapes.
        var members = System.Text.Json.Nodes.JsonNode.Parse(record)!.AsObject().Select(m => (m.Key, Value: m.Value!.ToJsonString())).Reverse().ToList();
        var reordered = "{" + string.Join(",", members.Select(m => $"\"{(m.Key == "created_at" ? "created\\u005fat" : m.Key)}\":{m.Value}")) + "}";
        reordered = reordered.Replace("\"method\":\"POST\"", "\"method\":\"PO\\u0053T\"");
        var line = Legacy($$"""{"seq":7,"op":"job","job":{{reordered}}""");
        var bytes = Encoding.UTF8.GetBytes(line);
        await Assert.That(LineEncoder.Verify(bytes)).IsTrue();
        var (_, decoded) = LineDecoder.Decode(bytes);
        await Assert.That(decoded.Job!).IsEqualTo(job with { Version = 7 });
    }

    [Test]
    public async Task Records_read_with_a_memo_of_schedules_each_read_as_written_and_sharing_the_same_schedule()
    {
        // Replay reads a schedule written as one read before once (ScheduleMemo), and a time
        // written as the one before it in the record once: a record that only looks alike must
        // still be read for itself.
        var minute = Rig.Every(TimeSpan.FromMinutes(1));
        var jitter = new ScheduleOptions(null, null, Duration.FromSeconds(5), null);
        var jobs = new[]
        {
            new Job(Guid.NewGuid(), minute, T, T, T, OnceOutcome.Pending, 0),
            new Job(Guid.NewGuid(), minute, T, T.AddSeconds(1), T.AddSeconds(1), OnceOutcome.Pending, 0),
            // The schedule above, and more after it: the same bytes up to where it ends.
            new Job(Guid.NewGuid(), minute with { Schedule = new EverySchedule(Duration.FromSeconds(60), jitter) }, T, T, T, OnceOutcome.Pending, 0),
            new Job(Guid.NewGuid(), minute, T.AddSeconds(2), T.AddSeconds(3), T.AddSeconds(2), OnceOutcome.Pending, 0),
            // Written as long as the first (1m0s, 2m0s), and so is each zone below.
            new Job(Guid.NewGuid(), Rig.Every(TimeSpan.FromMinutes(2)), T, T, T, OnceOutcome.Pending, 0),
            new Job(Guid.NewGuid(), Rig.Cron("30 2 * * MON-FRI", "Europe/Berlin"), T, T, T, OnceOutcome.Pending, 0),
            new Job(Guid.NewGuid(), Rig.Cron("30 2 * * MON-FRI", "Europe/Zurich"), T, T, T, OnceOutcome.Pending, 0),
            new Job(Guid.NewGuid(), Rig.Cron("30 2 * * MON-FRI", "Europe/Berlin"), T, T, T, OnceOutcome.Pending, 0),
        };
        var buffer = new ArrayBufferWriter<byte>();
        var encoder = new LineEncoder();
        foreach (var job in jobs) encoder.Write(buffer, 7, Change.Written(job));
        var lines = Encoding.UTF8.GetString(buffer.WrittenSpan).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var memo = new ScheduleMemo();
        var read = lines.Select(l => LineDecoder.Decode(Encoding.UTF8.GetBytes(l), memo).Change.Job!).ToList();
        for (var i = 0; i < jobs.Length; i++)
            await Assert.That(read[i]).IsEqualTo(jobs[i] with { Version = 7 });
        // Jobs whose schedules were written alike share one instance; the others do not.
        await Assert.That(read[1].Spec.Schedule).IsSameReferenceAs(read[0].Spec.Schedule);
        await Assert.That(read[3].Spec.Schedule).IsSameReferenceAs(read[0].Spec.Schedule);
        await Assert.That(read[7].Spec.Schedule).IsSameReferenceAs(read[5].Spec.Schedule);
        await Assert.That(read[2].Spec.Schedule).IsNotSameReferenceAs(read[0].Spec.Schedule);
        await Assert.That(read[4].Spec.Schedule).IsNotSameReferenceAs(read[0].Spec.Schedule);
        await Assert.That(read[6].Spec.Schedule).IsNotSameReferenceAs(read[5].Spec.Schedule);
        // Without a memo (the cluster's documents), the same lines read the same.
        for (var i = 0; i < jobs.Length; i++)
            await Assert.That(LineDecoder.Decode(Encoding.UTF8.GetBytes(lines[i])).Change.Job!).IsEqualTo(jobs[i] with { Version = 7 });
    }

    /// <summary>Lines as the first journal format wrote them: http and schedule members flat in the job.</summary>
    static string Legacy(string body)
    {
        var crc = Crc32.HashToUInt32(Encoding.UTF8.GetBytes(body)).ToString("x8");
        return $"{body},\"crc\":\"{crc}\"}}";
    }

    [Test]
    public async Task A_journal_written_before_schedule_codecs_replays_unchanged()
    {
        using var dir = new TempDir();
        var every = Guid.NewGuid();
        var once = Guid.NewGuid();
        Directory.CreateDirectory(dir.Data);
        File.WriteAllLines(dir.Journal,
        [
            Legacy($$"""{"seq":1,"op":"job","job":{"id":"{{every}}","name":"ping","enabled":true,"method":"POST","url":"http://127.0.0.1:1/a","headers":{"X-A":"1"},"body":"b","kind":"every","every":"5m0s","start_at":"2030-01-01T00:00:00.25Z","timeout":"10s","max_retries":3,"retry_backoff":"5s","created_at":"2030-01-01T00:00:00Z","updated_at":"2030-01-01T00:00:00Z","grid_origin":"2030-01-01T00:00:00.25Z","once":"pending"}"""),
            Legacy($$"""{"seq":2,"op":"job","job":{"id":"{{once}}","name":"later","enabled":true,"method":"GET","url":"http://127.0.0.1:1/b","kind":"once","run_at":"2030-01-01T01:00:00Z","timeout":"1.5s","max_retries":0,"retry_backoff":"1s","created_at":"2030-01-01T00:00:00Z","updated_at":"2030-01-01T00:00:00Z","grid_origin":"2030-01-01T00:00:00Z","once":"fired"}"""),
        ]);
        using var rig = new Rig(dir.Data);
        var a = rig.Jobs.Get(every)!.Job;
        await Assert.That(a.Spec.Schedule).IsEqualTo(new EverySchedule(Duration.FromSeconds(300), ScheduleOptions.None with { StartAt = new DateTimeOffset(2030, 1, 1, 0, 0, 0, 250, TimeSpan.Zero) }));
        await Assert.That(a.Spec.Http.Headers.Single()).IsEqualTo(new KeyValuePair<string, string>("X-A", "1"));
        await Assert.That(a.Spec.Http.Body).IsEqualTo("b");
        var b = rig.Jobs.Get(once)!.Job;
        await Assert.That(b.Spec.Schedule).IsEqualTo(new OnceSchedule(new DateTimeOffset(2030, 1, 1, 1, 0, 0, TimeSpan.Zero), ScheduleOptions.None));
        await Assert.That(b.State).IsEqualTo(JobState.Completed);
        await Assert.That(b.Spec.Timeout).IsEqualTo(Duration.FromMilliseconds(1500));
    }

    /// <summary>Both ways of writing a run's line: straight as bytes (where it can) and through the JSON writer.</summary>
    static (string Direct, string Written) BothWays(Change change)
    {
        var direct = new ArrayBufferWriter<byte>();
        var written = new ArrayBufferWriter<byte>();
        new LineEncoder().Write(direct, 42, change);
        new LineEncoder { Direct = false }.Write(written, 42, change);
        return (Encoding.UTF8.GetString(direct.WrittenSpan), Encoding.UTF8.GetString(written.WrittenSpan));
    }

    [Test]
    public async Task Text_is_plain_exactly_when_the_JSON_writer_writes_it_unescaped()
    {
        // Every ASCII character, and a few beyond: the direct writer must agree with the writer it stands in for.
        var chars = Enumerable.Range(0, 128).Select(c => (char)c).Concat(['é', '\u00a0', '\u2028', '€', '\ud83d']);
        foreach (var c in chars)
        {
            var text = $"a{c}b";
            var buffer = new ArrayBufferWriter<byte>();
            using (var w = new System.Text.Json.Utf8JsonWriter(buffer)) w.WriteStringValue(text);
            var unescaped = Encoding.UTF8.GetString(buffer.WrittenSpan) == $"\"{text}\"";
            await Assert.That(Ksana.Records.JsonBytes.IsPlain(text)).IsEqualTo(unescaped).Because($"U+{(int)c:X4}");
        }
    }

    [Test]
    public async Task A_run_line_written_straight_as_bytes_is_the_line_the_JSON_writer_writes()
    {
        var random = new Random(20261201);
        var texts = new[] { "connection error: refused", "timeout after 1500ms", "HTTP 500 <b>\"oops\"</b> & 'quotes' + more", "naïve – ünïcödé ✓", new string('x', 900), new string('y', 2000), "", "a+b", "can't", "x`y", "a>b" };
        for (var i = 0; i < 400; i++)
        {
            var scheduled = T.AddTicks(random.NextInt64(0, TimeSpan.TicksPerDay * 400));
            var attempts = Enumerable.Range(1, random.Next(0, 4)).Select(n => new Attempt(n, scheduled.AddTicks(random.NextInt64(0, 10_000_000)), random.NextInt64(0, 100_000),
                random.Next(3) == 0 ? null : random.Next(100, 600), random.Next(3) == 0 ? texts[random.Next(texts.Length)] : null,
                random.Next(3) == 0 ? texts[random.Next(texts.Length)] : null)).ToArray();
            var run = new Run(Guid.NewGuid(), Guid.NewGuid(), (RunTrigger)random.Next(2), (RunStatus)random.Next(6), scheduled,
                random.Next(4) == 0 ? null : scheduled.AddMilliseconds(random.Next(0, 100_000)), attempts,
                random.Next(3) == 0 ? texts[random.Next(texts.Length)] : null) { Replays = random.Next(3) == 0 ? random.Next(1, 5) : 0 };
            var (direct, written) = BothWays(Change.Recorded(run));
            await Assert.That(direct).IsEqualTo(written).Because($"run {i}");
            // And it reads back as the run it says.
            await Assert.That(BothWays(RoundTrip(Change.Recorded(run))).Written).IsEqualTo(written).Because($"run {i} read back");
        }
    }

    [Test]
    public async Task A_kept_run_written_straight_from_its_row_is_the_line_the_JSON_writer_writes()
    {
        var jobId = Guid.NewGuid();
        var history = RunHistory.Empty;
        var at = T;
        for (var i = 0; i < 30; i++)
        {
            at = at.AddSeconds(1);
            Run run = (i % 3) switch
            {
                0 => new Run(Guid.NewGuid(), jobId, RunTrigger.Schedule, RunStatus.Succeeded, at, at.AddMilliseconds(4), [new Attempt(1, at.AddMilliseconds(1), 3, 204, null)], null),
                1 => Run.Skipped(Guid.NewGuid(), jobId, new SkipSeries(i, at, at.AddSeconds(i), i % 2 == 0 ? Guid.Empty : Guid.NewGuid()), at.AddSeconds(i)),
                _ => new Run(Guid.NewGuid(), jobId, RunTrigger.Manual, RunStatus.Failed, at, at.AddSeconds(2), [new Attempt(1, at, 10, 503, "HTTP 503 \"busy\"", "<html>")], "gave up"),
            };
            history = RunHistory.Upsert(history, run, 20);
        }
        for (var i = 0; i < history.Length; i++)
        {
            var (direct, written) = BothWays(Change.Kept(history, i));
            await Assert.That(direct).IsEqualTo(written).Because($"row {i}");
        }
    }
}
