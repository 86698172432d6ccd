using System.Text;
using Ksana.Records;
using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Tests.Unit;

/// <summary>
/// Replay's short road for run lines (<see cref="PlainRunLine"/>) held beside the JSON reader:
/// whatever it reads, it reads as that reader does, and whatever it cannot, it declines.
/// </summary>
public class PlainRunLineTests
{
    static readonly DateTimeOffset T = new(2030, 1, 2, 3, 4, 5, 678, TimeSpan.Zero);
    static readonly Guid JobId = Guid.NewGuid();

    static byte[] LineOf(Change change, long seq = 7) => JournalLines.Of(change, seq);

    /// <summary>A run's every member, its attempts' included, as one text: <see cref="Run"/>'s own equality compares the attempts' array by reference.</summary>
    static string Said(Run run) =>
        $"{run with { Attempts = [] }} [{string.Join(", ", run.Attempts)}] skips {run.Skips}";

    /// <summary>
    /// The JSON reader's run, or null when it refuses the line; and the short road's, or null when
    /// it declines. The short road must never read a line the reader refuses, nor read one otherwise.
    /// </summary>
    static async Task<(Run? Reader, Run? Plain)> BothAsync(byte[] line)
    {
        await Assert.That(LineEncoder.Verify(line)).IsTrue();
        Run? byReader;
        long readerSeq = 0;
        try
        {
            (readerSeq, var change) = LineDecoder.Decode(line);
            byReader = change.Run;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException)
        {
            byReader = null;
        }
        var read = PlainRunLine.TryRead(line, out var seq, out var byPlain);
        if (read)
        {
            await Assert.That(byReader).IsNotNull().Because($"the reader refuses {Encoding.UTF8.GetString(line)}");
            await Assert.That(Said(byPlain!)).IsEqualTo(Said(byReader!)).Because(Encoding.UTF8.GetString(line));
            await Assert.That(seq).IsEqualTo(readerSeq);
        }
        return (byReader, read ? byPlain : null);
    }

    static Run Ran(RunStatus status, params Attempt[] attempts) =>
        new(Guid.NewGuid(), JobId, RunTrigger.Schedule, status, T, Run.Ended(status) ? T.AddMilliseconds(12) : null, attempts, null);

    [Test]
    public async Task Run_lines_are_read_as_the_json_reader_reads_them()
    {
        var runs = new[]
        {
            Ran(RunStatus.Succeeded, new Attempt(1, T, 0, 204, null)),
            Ran(RunStatus.Succeeded, new Attempt(1, T.AddMilliseconds(2), 1234, 200, null, "ok")),
            Ran(RunStatus.Running),
            Ran(RunStatus.Running, new Attempt(1, T, 0, null, null)),
            Ran(RunStatus.Retrying, new Attempt(1, T, 10_000, null, "timed out after 10s"), new Attempt(2, T.AddSeconds(11), 3, 503, "HTTP 503", "<html>busy</html>")),
            Ran(RunStatus.Failed, new Attempt(1, T, 5, 500, "HTTP 500 \"naïve\" \\ \U0001F600 <&>+'", "{\"é\":\"\\n\"}"), new Attempt(2, T, 5, null, "connection refused"),
                new Attempt(3, T.AddHours(1), long.MaxValue / 1000, 599, null)) with { Error = "gave up after 3 attempts" },
            Ran(RunStatus.Succeeded, new Attempt(1, T, 0, 204, null)) with { Trigger = RunTrigger.Manual, Replays = 2 },
            Ran(RunStatus.Missed) with { Error = "missed: the process was down" },
            Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(1, T, T, Guid.NewGuid()), T.AddSeconds(1)),
            Run.Skipped(Guid.NewGuid(), JobId, new SkipSeries(17, T, T.AddSeconds(16), Guid.Empty), T.AddSeconds(17)),
        };
        foreach (var run in runs)
        {
            var line = LineOf(Change.Recorded(run), seq: 123_456_789_012);
            var (byReader, byPlain) = await BothAsync(line);
            await Assert.That(byPlain).IsNotNull().Because(Encoding.UTF8.GetString(line));
            await Assert.That(Said(byReader!)).IsEqualTo(Said(run));
            await Assert.That(byPlain!.Skips is null).IsEqualTo(run.Skips is null);
        }

        // And as a compaction writes a job's kept rows, straight from the history.
        var history = RunHistory.Empty;
        foreach (var run in runs) history = RunHistory.Upsert(history, run, 20);
        for (var i = 0; i < history.Length; i++)
        {
            var line = LineOf(Change.Kept(history, i));
            await Assert.That((await BothAsync(line)).Plain).IsNotNull().Because(Encoding.UTF8.GetString(line));
        }

        // Through the decoder replay uses, a run line is the short road's and a job line is not.
        var memo = new ScheduleMemo();
        var decoded = LineDecoder.Decode(LineOf(Change.Recorded(runs[4]), seq: 9), memo);
        await Assert.That(decoded.Seq).IsEqualTo(9);
        await Assert.That(Said(decoded.Change.Run!)).IsEqualTo(Said(runs[4]));
    }

    [Test]
    public async Task Run_lines_written_otherwise_are_declined_and_left_to_the_json_reader()
    {
        var run = Ran(RunStatus.Failed, new Attempt(1, T, 10, 503, "HTTP 503", "busy")) with { Error = "gave up", Replays = 1 };
        var line = LineOf(Change.Recorded(run));
        await Assert.That((await BothAsync(line)).Plain).IsNotNull();
        var text = Encoding.UTF8.GetString(line);

        // Each one a change the writer never makes; the reader reads some and refuses others.
        var variants = new (string From, string To, bool ReaderReads)[]
        {
            ("\"seq\":7", "\"seq\": 7", true),
            ("\"seq\":7", "\"seq\":07", false),
            ("\"trigger\":\"schedule\"", "\"trigger\":\"manual\"", true),
            ("\"trigger\":\"schedule\"", "\"trigger\":\"cron\"", false),
            ("\"trigger\":\"schedule\"", "\"trigger\":\"sched\\u0075le\"", true),
            ("\"status\":\"failed\"", "\"status\":\"Failed\"", false),
            ("\"status\":\"failed\"", "\"status\":\"retrying\"", true),
            ($"\"run_id\":\"{run.RunId:N}\"", $"\"run_id\":\"{run.RunId:D}\"", false),
            ($"\"run_id\":\"{run.RunId:N}\"", $"\"run_id\":\"{Guid.Empty:N}\"", false),
            ($"\"job_id\":\"{JobId:D}\"", $"\"job_id\":\"{JobId:N}\"", false),
            ("\"replays\":1", "\"replays\":-1", true),
            ("\"replays\":1", "\"replays\":1.0", false),
            ("\"replays\":1", "\"replays\":01", false),
            ("\"replays\":1", "\"replays\":99999999999", false),
            ("\"duration_ms\":10", "\"duration_ms\":-10", true),
            ("\"duration_ms\":10", "\"duration_ms\":1e1", false),
            ("\"status_code\":503", "\"status_code\":null", true),
            ("\"status_code\":503", "\"status_code\":\"503\"", false),
            ("\"error\":\"gave up\"", "\"error\":null", true),
            ("\"error\":\"gave up\"", "\"error\":\"gave\\tup\"", true),
            ("\"error\":\"gave up\"", "\"error\":\"gave\tup\"", false),
            ("\"error\":\"gave up\"", "\"error\":\"gave\\qup\"", false),
            ("\"response\":\"busy\"", "\"response\":\"b\\u00fcsy\"", true),
            ("\"response\":\"busy\"", "\"response\":\"b\\uDC00sy\"", false),
            ("\"scheduled_at\":\"2030-01-02T03:04:05.678Z\"", "\"scheduled_at\":\"2030-01-02T03:04:05.678+00:00\"", true),
            ("\"scheduled_at\":\"2030-01-02T03:04:05.678Z\"", "\"scheduled_at\":\"2030-01-02 03:04:05.678Z\"", false),
            ("\"finished_at\"", "\"finished\\u005fat\"", true),
            (",\"replays\":1", "", true),
            (",\"replays\":1", ",\"replays\":1,\"more\":1", false),
            ("\"attempts\":[{", "\"attempts\":[ {", true),
            ("\"response\":\"busy\"}]", "\"response\":\"busy\"},]", false),
            ("\"response\":\"busy\"}]", "\"response\":\"busy\"}", false),
            ("\"response\":\"busy\"}]}", "\"response\":\"busy\"}]},\"op\":\"run\"", true),
            ("\"response\":\"busy\"}]}", "\"response\":\"busy\"}]},\"more\":1", false),
            ("{\"attempt\":1,\"started_at\"", "{\"started_at\"", true),
            ("\"status\":\"failed\",\"scheduled_at\"", "\"scheduled_at\"", true),
        };
        foreach (var (from, to, readerReads) in variants)
        {
            await Assert.That(text).Contains(from);
            var changed = JournalLines.Resealed(Encoding.UTF8.GetBytes(text.Replace(from, to)));
            // BothAsync holds the short road to the reader: what it reads, it reads the same.
            var (byReader, byPlain) = await BothAsync(changed);
            await Assert.That(byReader is not null).IsEqualTo(readerReads).Because(to);
            if (!readerReads) await Assert.That(byPlain).IsNull().Because(to);
        }

        // Bytes no JSON text may hold in a string: not UTF-8, and a NUL.
        foreach (var bad in new byte[] { 0xFF, 0x00 })
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            bytes[text.IndexOf("\"response\":\"busy\"", StringComparison.Ordinal) + 13] = bad;
            var (byReader, byPlain) = await BothAsync(JournalLines.Resealed(bytes));
            await Assert.That(byPlain).IsNull();
            await Assert.That(byReader).IsNull();
        }
    }
}
