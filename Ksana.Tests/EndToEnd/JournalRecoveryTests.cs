using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §6 on the real file: a torn tail is cut off with a copy kept; damage in the middle stops start-up.</summary>
public sealed class JournalRecoveryTests
{
    const string Key = "journal-key";

    [Test]
    public async Task A_torn_last_line_is_set_aside_and_start_up_continues()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        var ids = new List<string>();
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api(Key);
            for (var i = 0; i < 3; i++)
                ids.Add((await api.CreateJobAsync(JobDocs.Every($"torn-{i}", "http://127.0.0.1:9/", "1h")))!["id"]?.GetValue<string>()!);
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0);
        }

        // What a crash in the middle of an append leaves: the first half of a line, no newline.
        var lines = File.ReadAllLines(dir.Journal);
        await Assert.That(lines.Length).IsGreaterThanOrEqualTo(3);
        var half = Encoding.UTF8.GetBytes(lines[^1])[..(lines[^1].Length / 2)];
        await using (var file = new FileStream(dir.Journal, FileMode.Append)) file.Write(half);

        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api(Key);
            foreach (var id in ids)
                await Assert.That((await api.SendAsync(HttpMethod.Get, $"/jobs/{id}")).Status).IsEqualTo((int)HttpStatusCode.OK);
            await Assert.That((await api.ListAllJobsAsync()).Count).IsEqualTo(3);
            var torn = Directory.GetFiles(dir.Data, "journal.jsonl.torn-*");
            await Assert.That(torn.Length).IsEqualTo(1).Because($"files: {string.Join(", ", Directory.GetFiles(dir.Data))}");
            await Assert.That(File.ReadAllBytes(torn[0]).AsSpan().IndexOf(half) >= 0).IsTrue()
                .Because("the set-aside copy must hold the torn bytes");
            await Assert.That(ksana.Stdout + ksana.Stderr).Contains("torn", StringComparison.OrdinalIgnoreCase)
                .Because("cutting a torn line must be logged as a warning");

            // And the server goes on writing after the repair.
            await api.CreateJobAsync(JobDocs.Every("after-repair", "http://127.0.0.1:9/", "1h"));
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0);
        }
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api(Key);
            await Assert.That((await api.ListAllJobsAsync()).Count).IsEqualTo(4);
        }
    }

    [Test]
    public async Task A_corrupt_middle_line_stops_start_up_and_leaves_the_file_alone()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using (var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            using var api = ksana.Api(Key);
            for (var i = 1; i <= 5; i++)
                await api.CreateJobAsync(JobDocs.Every($"corrupt-number-{i}", "http://127.0.0.1:9/", "1h"));
            await Assert.That(await ksana.StopAsync()).IsEqualTo(0);
        }

        var bytes = File.ReadAllBytes(dir.Journal);
        var lineCount = bytes.Count(b => b == (byte)'\n');
        await Assert.That(lineCount).IsEqualTo(5).Because("five creates should be five journal lines");

        // Flip the case of one letter of line 2's job name: still valid JSON, so only the checksum can tell.
        var line2Start = Array.IndexOf(bytes, (byte)'\n') + 1;
        var line2End = Array.IndexOf(bytes, (byte)'\n', line2Start);
        var at = bytes.AsSpan(line2Start, line2End - line2Start).IndexOf("corrupt-number"u8);
        await Assert.That(at).IsGreaterThanOrEqualTo(0);
        bytes[line2Start + at] = (byte)'C';
        File.WriteAllBytes(dir.Journal, bytes);
        var before = Directory.GetFiles(dir.Data).Order().ToArray();

        await using var broken = KsanaProcess.Launch(KsanaProcess.FreePort(), dir.Data, keys);
        var code = await broken.WaitExitAsync(TimeSpan.FromSeconds(15));

        await Assert.That(code).IsEqualTo(1).Because(broken.Output);
        await Assert.That(broken.Stderr).Contains("journal.jsonl").Because(broken.Output);
        await Assert.That(Regex.IsMatch(broken.Stderr, @"line\D{0,3}2\b", RegexOptions.IgnoreCase)).IsTrue()
            .Because($"stderr must name line 2:\n{broken.Output}");
        await Assert.That(File.ReadAllBytes(dir.Journal).SequenceEqual(bytes)).IsTrue().Because("the journal must be left untouched");
        await Assert.That(Directory.GetFiles(dir.Data).Order().ToArray()).IsEquivalentTo(before)
            .Because("no torn copy or compaction file may be made for damage in the middle");
    }
}
