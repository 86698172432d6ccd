using System.Text;
using Ksana.Records;
using Ksana.Scheduling;
using Ksana.Scheduling.Schedules;
using Ksana.Storage;

namespace Ksana.Tests.Unit;

/// <summary>
/// Replay's short road for plain job lines (<see cref="PlainJobLine"/>) held beside the JSON reader:
/// whatever it reads, it reads as that reader does, and whatever it cannot, it declines.
/// </summary>
public class PlainJobLineTests
{
    static readonly DateTimeOffset T = new(2030, 1, 2, 3, 4, 5, 678, TimeSpan.Zero);

    static byte[] LineOf(Job job, long seq = 7) => JournalLines.Of(Change.Written(job), seq);

    /// <summary>
    /// The JSON reader's job, or null when it refuses the line; and the short road's, or null when
    /// it declines. The short road must never read a line the reader refuses, nor read one otherwise.
    /// </summary>
    static async Task<(Job? Reader, Job? Plain)> BothAsync(byte[] line, ScheduleMemo memo)
    {
        await Assert.That(LineEncoder.Verify(line)).IsTrue();
        Job? byReader;
        try
        {
            byReader = LineDecoder.Decode(line).Change.Job;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException)
        {
            byReader = null;
        }
        var read = PlainJobLine.TryRead(line, memo, out var seq, out var byPlain);
        if (read)
        {
            await Assert.That(byReader).IsNotNull().Because($"the reader refuses {Encoding.UTF8.GetString(line)}");
            await Assert.That(byPlain!).IsEqualTo(byReader!).Because(Encoding.UTF8.GetString(line));
            await Assert.That(seq).IsEqualTo(byReader!.Version);
        }
        return (byReader, read ? byPlain : null);
    }

    static Job Plain(JobSpec spec) => new(Guid.NewGuid(), spec, T, T, T, OnceOutcome.Pending, 0);

    [Test]
    public async Task Plain_lines_are_read_as_the_json_reader_reads_them_once_their_schedule_is_known()
    {
        var options = new ScheduleOptions(T, T.AddDays(30), Duration.FromSeconds(1), Duration.FromSeconds(3600));
        Duration.TryParse("1.9999999999s", out var odd, out _);
        var plain = new[]
        {
            Plain(Rig.Every(TimeSpan.FromHours(1))),
            Plain(Rig.Every(TimeSpan.FromHours(1)) with { Name = "", Enabled = false, Timeout = odd, RetryBackoff = new Duration(1_500_000_001) }),
            Plain(Rig.Every(TimeSpan.FromHours(1)) with { Http = new HttpTarget("DELETE", "https://ex.example/a?q=1", [], "") }),
            // The writer escapes quotes, backslashes, what is not ASCII, and &, <, >, +, ': unescaped as the reader does.
            Plain(Rig.Every(TimeSpan.FromHours(1)) with
            {
                Name = "naïve \"名前\" \\ \U0001F600 <&>+'",
                Http = new HttpTarget("POST", "https://ex.example/?a=1&b=2+3", [new("X-A", "1"), new("Content-Type", "application/json"), new("X-A", "2")],
                    "{\"job\":\"{{job_id}}\",\"at\":\"{{scheduled_at}}\",\"é\":\"\\n\"}"),
            }),
            Plain(Rig.Every(TimeSpan.FromHours(1)) with { Http = new HttpTarget("PUT", "http://127.0.0.1:1/hook", [], "plain body") }),
            Plain(Rig.Every(TimeSpan.FromHours(1)) with { Http = new HttpTarget("GET", "http://127.0.0.1:1/hook", [new("Authorization", "Bearer x")], "") }),
            Plain(Rig.Every(TimeSpan.FromMinutes(1)) with { Key = "my-key", MaxRetries = 100, PauseAfterFailures = 1000 }),
            Plain(Rig.Cron("30 2 * * MON-FRI", "Europe/Berlin", options)),
            Plain(Rig.Once(T) with { Schedule = new OnceSchedule(T, ScheduleOptions.None with { CatchUp = Duration.FromSeconds(60) }) }) with { Once = OnceOutcome.Fired },
            new Job(Guid.NewGuid(), Rig.Every(TimeSpan.FromHours(1)) with { Enabled = false }, T, T.AddSeconds(1), T.AddSeconds(2), OnceOutcome.Missed, 0)
            {
                PausedReason = "paused after 3 failed runs", FailureStreak = 2_000_000_000, StreakAtResume = 1,
            },
            new Job(Guid.NewGuid(), Rig.Every(TimeSpan.FromHours(1)), T, T.AddSeconds(1), T.AddSeconds(1), OnceOutcome.Pending, 0),
        };
        var memo = new ScheduleMemo();
        foreach (var job in plain)
        {
            var line = LineOf(job, seq: 123_456_789_012);
            // A schedule this replay has not read yet is the reader's (which remembers it) ...
            var known = memo.Find(ScheduleBytes(line)) is not null;
            var (_, first) = await BothAsync(line, memo);
            if (!known) await Assert.That(first).IsNull();
            LineDecoder.Decode(line, memo);
            // ... and then the line is the short road's.
            var (byReader, byPlain) = await BothAsync(line, memo);
            await Assert.That(byPlain).IsNotNull().Because(Encoding.UTF8.GetString(line));
            await Assert.That(byReader!).IsEqualTo(job with { Version = 123_456_789_012 });
            await Assert.That(byPlain!.Spec.Schedule).IsSameReferenceAs(memo.Find(ScheduleBytes(line)));
            await Assert.That(byPlain.Spec.Http.Method).IsSameReferenceAs(HttpTarget.Methods.Single(m => m == job.Spec.Http.Method));
        }
    }

    static byte[] ScheduleBytes(byte[] line)
    {
        var text = Encoding.UTF8.GetString(line);
        var start = text.IndexOf("\"schedule\":", StringComparison.Ordinal) + 11;
        return Encoding.UTF8.GetBytes(text[start..(text.IndexOf('}', start) + 1)]);
    }

    [Test]
    public async Task Lines_written_otherwise_are_declined_and_left_to_the_json_reader()
    {
        var job = Plain(Rig.Every(TimeSpan.FromHours(1)) with { MaxRetries = 2, Key = "k" }) with { Once = OnceOutcome.Fired };
        var line = LineOf(job);
        var memo = new ScheduleMemo();
        LineDecoder.Decode(line, memo);
        await Assert.That((await BothAsync(line, memo)).Plain).IsNotNull();
        var text = Encoding.UTF8.GetString(line);

        // Each one a change the writer never makes; the reader reads some and refuses others.
        var variants = new (string From, string To, bool ReaderReads)[]
        {
            ("\"enabled\":true", "\"enabled\": true", true),
            ("\"max_retries\":2", "\"max_retries\":02", false),
            ("\"max_retries\":2", "\"max_retries\":2.0", false),
            ("\"max_retries\":2", "\"max_retries\":-2", true),
            ("\"max_retries\":2", "\"max_retries\":99999999999", false),
            ("\"max_retries\":2", "\"max_retries\":2e0", false),
            ("\"name\":\"job\"", "\"name\":\"jo\\u0062\"", true),
            ("\"name\":\"job\"", "\"name\":\"j\tb\"", false),
            ("\"name\":\"job\"", "\"name\":\"j\\\"b\"", true),
            ("\"key\":\"k\"", "\"key\":null", true),
            ("\"once\":\"fired\"", "\"once\":\"pending\"", true),
            ("\"once\":\"fired\"", "\"once\":\"later\"", false),
            ("\"method\":\"POST\"", "\"method\":\"post\"", false),
            ("\"url\":\"http://127.0.0.1:1/hook\"", "\"url\":\"\"", false),
            ($"\"id\":\"{job.Id}\"", "\"id\":\"00000000-0000-0000-0000-000000000000\"", false),
            ($"\"id\":\"{job.Id}\"", $"\"id\":\"{job.Id:N}\"", false),
            ("\"schedule\":{\"kind\":\"every\"", "\"schedule\":{ \"kind\":\"every\"", true),
            ("\"created_at\"", "\"created\\u005fat\"", true),
            ("\"created_at\":\"2030-01-02T03:04:05.678Z\"", "\"created_at\":\"2030-01-02T03:04:05.678+00:00\"", true),
            ("\"created_at\":\"2030-01-02T03:04:05.678Z\"", "\"created_at\":\"2030-01-02 03:04:05.678Z\"", false),
            ("\"timeout\":\"10s\"", "\"timeout\":\"10\"", false),
            ("\"grid_origin\"", "\"failure_streak\":1,\"grid_origin\"", true),
            (",\"once\":\"fired\"", ",\"once\":\"fired\",\"more\":1", false),
            ("{\"seq\":7,", "{\"seq\":7, ", true),
            ("\"name\":\"job\"", "\"name\":\"j\\xb\"", false),
            ("\"name\":\"job\"", "\"name\":\"j\\uD800b\"", false),
            ("\"name\":\"job\"", "\"name\":\"j\\u00\"", false),
            ("\"name\":\"job\"", "\"name\":\"job\\\\\"", true),
            ("\"url\":\"http://127.0.0.1:1/hook\"", "\"url\":\"http://127.0.0.1:1/hook\",\"headers\":{}", true),
            ("\"url\":\"http://127.0.0.1:1/hook\"", "\"url\":\"http://127.0.0.1:1/hook\",\"headers\":{\"A\":\"1\",}", false),
            ("\"url\":\"http://127.0.0.1:1/hook\"", "\"url\":\"http://127.0.0.1:1/hook\",\"headers\":{\"A\":1}", false),
            ("\"url\":\"http://127.0.0.1:1/hook\"", "\"url\":\"http://127.0.0.1:1/hook\",\"body\":\"b\",\"headers\":{\"A\":\"1\"}", true),
        };
        foreach (var (from, to, readerReads) in variants)
        {
            await Assert.That(text).Contains(from);
            var changed = JournalLines.Resealed(Encoding.UTF8.GetBytes(text.Replace(from, to)));
            // BothAsync holds the short road to the reader: what it reads, it reads the same.
            var (byReader, byPlain) = await BothAsync(changed, memo);
            await Assert.That(byReader is not null).IsEqualTo(readerReads).Because(to);
            if (!readerReads) await Assert.That(byPlain).IsNull().Because(to);
        }

        // Bytes no JSON text may hold in a string: not UTF-8, and a NUL.
        foreach (var bad in new byte[] { 0xFF, 0x00 })
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            bytes[text.IndexOf("\"name\":\"job\"", StringComparison.Ordinal) + 9] = bad;
            var (byReader, byPlain) = await BothAsync(JournalLines.Resealed(bytes), memo);
            await Assert.That(byPlain).IsNull();
            await Assert.That(byReader).IsNull();
        }
    }

    [Test]
    public async Task A_schedule_whose_text_holds_a_closing_brace_is_the_json_reader_s()
    {
        // No schedule's text holds a brace, so the memo is given the bytes up to one by hand: even
        // then the short road must not take them for the object (what follows is no member).
        var memo = new ScheduleMemo();
        var every = new EverySchedule(Duration.FromSeconds(3600), ScheduleOptions.None);
        memo.Remember("{\"kind\":\"every\",\"every\":\"1h}"u8, every);
        var job = Plain(Rig.Every(TimeSpan.FromHours(1)));
        var text = Encoding.UTF8.GetString(LineOf(job)).Replace("\"every\":\"1h0m0s\"}", "\"every\":\"1h}\"}");
        var (_, byPlain) = await BothAsync(JournalLines.Resealed(Encoding.UTF8.GetBytes(text)), memo);
        await Assert.That(byPlain).IsNull();
    }
}
