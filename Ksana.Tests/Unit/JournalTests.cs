using System.Runtime;
using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Tests.Unit;

/// <summary>The journal of SPEC §6, broken on purpose: torn tails, damaged lines, failed writes, endless updates.</summary>
public class JournalTests
{
    static async Task<Guid[]> CreateJobs(string dir, int count)
    {
        using var rig = new Rig(dir);
        var ids = new Guid[count];
        for (var i = 0; i < count; i++) ids[i] = (await rig.CreateAsync(Rig.Every(TimeSpan.FromMinutes(1)) with { Name = $"job-{i}" })).Id;
        return ids;
    }

    [Test]
    public async Task Every_acknowledged_job_survives_a_reopen()
    {
        using var dir = new TempDir();
        var ids = await CreateJobs(dir.Data, 30);
        using var rig = new Rig(dir.Data);
        await Assert.That(rig.Data.Table.Count).IsEqualTo(30);
        foreach (var id in ids) await Assert.That(rig.Jobs.Get(id)).IsNotNull();
    }

    [Test]
    public async Task Every_line_carries_a_rising_seq_and_a_checksum()
    {
        using var dir = new TempDir();
        await CreateJobs(dir.Data, 3);
        var lines = File.ReadAllLines(dir.Journal);
        await Assert.That(lines.Length).IsEqualTo(3);
        long last = 0;
        foreach (var line in lines)
        {
            await Assert.That(LineEncoder.Verify(System.Text.Encoding.UTF8.GetBytes(line))).IsTrue();
            var seq = System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("seq").GetInt64();
            await Assert.That(seq).IsGreaterThan(last);
            last = seq;
        }
    }

    [Test]
    [Arguments("{\"seq\":99,\"op\":\"job\",\"jo")]
    [Arguments("\0\0\0\0\0\0\0\0\0\0")]
    [Arguments("{\"seq\":99,\"op\":\"del\",\"id\":\"x\",\"crc\":\"00000000\"}\n")]
    public async Task A_torn_last_line_is_cut_off_and_kept_aside(string tail)
    {
        using var dir = new TempDir();
        var ids = await CreateJobs(dir.Data, 5);
        var intact = File.ReadAllBytes(dir.Journal);
        File.AppendAllText(dir.Journal, tail);
        using (var rig = new Rig(dir.Data))
        {
            await Assert.That(rig.Data.Table.Count).IsEqualTo(5);
            foreach (var id in ids) await Assert.That(rig.Jobs.Get(id)).IsNotNull();
        }
        await Assert.That(Directory.GetFiles(dir.Data, "journal.jsonl.torn-*").Length).IsEqualTo(1);
        using (var rig = new Rig(dir.Data))
            await Assert.That(rig.Data.Table.Count).IsEqualTo(5);
        _ = intact;
    }

    [Test]
    public async Task A_damaged_line_in_the_middle_stops_start_up_and_changes_nothing()
    {
        using var dir = new TempDir();
        await CreateJobs(dir.Data, 5);
        var bytes = File.ReadAllBytes(dir.Journal);
        var secondLine = Array.IndexOf(bytes, (byte)'\n') + 1;
        bytes[secondLine + 30] ^= 0x20; // flip one bit inside line 2
        File.WriteAllBytes(dir.Journal, bytes);

        var error = Assert.Throws<StartupException>(() => new Rig(dir.Data).Dispose());
        await Assert.That(error!.Message).Contains("line 2");
        await Assert.That(error.Message).Contains(dir.Journal);
        await Assert.That(File.ReadAllBytes(dir.Journal)).IsEquivalentTo(bytes);
        await Assert.That(Directory.GetFiles(dir.Data, "journal.jsonl.torn-*")).IsEmpty();
    }

    /// <summary>300 jobs of 4 KB each: more lines than a decoded batch, more bytes than a read buffer.</summary>
    static async Task<Guid[]> CreateLargeJobs(string dir, int count = 300)
    {
        using var rig = new Rig(dir);
        var ids = new Guid[count];
        var spec = Rig.Every(TimeSpan.FromMinutes(1));
        spec = spec with { Http = spec.Http with { Body = new string('b', 4000) } };
        for (var i = 0; i < ids.Length; i++) ids[i] = (await rig.CreateAsync(spec with { Name = $"job-{i}" })).Id;
        return ids;
    }

    [Test]
    public async Task A_long_journal_replays_whole_and_its_torn_tail_is_still_cut_off()
    {
        using var dir = new TempDir();
        var ids = await CreateLargeJobs(dir.Data);
        await Assert.That(new FileInfo(dir.Journal).Length).IsGreaterThan(1 << 20);
        File.AppendAllText(dir.Journal, "{\"seq\":99999,\"op\":\"job\",\"jo");
        using (var rig = new Rig(dir.Data))
        {
            await Assert.That(rig.Data.Table.Count).IsEqualTo(300);
            foreach (var id in ids) await Assert.That(rig.Jobs.Get(id)!.Job.Spec.Http.Body.Length).IsEqualTo(4000);
            await Assert.That(rig.Jobs.Get(ids[299])!.Job.Spec.Name).IsEqualTo("job-299");
        }
        await Assert.That(Directory.GetFiles(dir.Data, "journal.jsonl.torn-*").Length).IsEqualTo(1);
    }

    [Test]
    public async Task Lines_longer_than_a_decoding_chunk_replay_whole_and_in_order()
    {
        using var dir = new TempDir();
        // Bodies of 300 000 and 700 000 characters: lines longer than the 256 KiB chunks replay is
        // decoded in, between short lines, so a chunk holds one long line or several short ones.
        var bodies = new[] { 10, 300_000, 20, 30, 700_000, 40, 300_000 };
        var ids = new Guid[bodies.Length];
        using (var rig = new Rig(dir.Data))
        {
            var spec = Rig.Every(TimeSpan.FromMinutes(1));
            for (var i = 0; i < ids.Length; i++)
                ids[i] = (await rig.CreateAsync(spec with { Name = $"job-{i}", Http = spec.Http with { Body = new string('b', bodies[i]) } })).Id;
        }
        File.AppendAllText(dir.Journal, "{\"seq\":99999,\"op\":\"job\",\"jo");
        using (var rig = new Rig(dir.Data))
        {
            await Assert.That(rig.Data.Table.Count).IsEqualTo(ids.Length);
            var versions = new long[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                var job = rig.Jobs.Get(ids[i])!.Job;
                await Assert.That(job.Spec.Name).IsEqualTo($"job-{i}");
                await Assert.That(job.Spec.Http.Body.Length).IsEqualTo(bodies[i]);
                versions[i] = job.Version;
                if (i > 0) await Assert.That(versions[i]).IsGreaterThan(versions[i - 1]);
            }
        }
        await Assert.That(Directory.GetFiles(dir.Data, "journal.jsonl.torn-*").Length).IsEqualTo(1);
    }

    [Test]
    public async Task A_journal_large_enough_for_a_no_collection_replay_comes_back_whole_with_its_jobs_numbered_in_order()
    {
        using var dir = new TempDir();
        // 1 100 jobs with 4 000-character bodies: a journal over 4 MiB, which replays in a no-GC region.
        var ids = await CreateLargeJobs(dir.Data, 1100);
        await Assert.That(new FileInfo(dir.Journal).Length).IsGreaterThan(4 << 20);
        using var rig = new Rig(dir.Data);
        await Assert.That(GCSettings.LatencyMode).IsNotEqualTo(GCLatencyMode.NoGCRegion);
        await Assert.That(rig.Data.Table.Count).IsEqualTo(ids.Length);
        // The reader numbers jobs in file order (their lines' sequence numbers, decoded side by side);
        // the table does not renumber them.
        var versions = ids.Select(id => rig.Jobs.Get(id)!.Job.Version).ToArray();
        for (var i = 1; i < versions.Length; i++) await Assert.That(versions[i]).IsGreaterThan(versions[i - 1]);
        // A change after replay gets a number no replayed job holds.
        var paused = await rig.Jobs.PauseAsync(ids[0]);
        await Assert.That(paused.Value!.Version).IsGreaterThan(versions[^1]);
    }

    [Test]
    public async Task Damage_deep_in_a_long_journal_names_its_line_and_changes_nothing()
    {
        using var dir = new TempDir();
        await CreateLargeJobs(dir.Data);
        var bytes = File.ReadAllBytes(dir.Journal);
        var at = 0;
        for (var line = 1; line < 280; line++) at = Array.IndexOf(bytes, (byte)'\n', at) + 1;
        bytes[at + 30] ^= 0x20; // flip one bit inside line 280, past the first read buffer and batch
        File.WriteAllBytes(dir.Journal, bytes);

        var error = Assert.Throws<StartupException>(() => new Rig(dir.Data).Dispose());
        await Assert.That(error!.Message).Contains("line 280:");
        await Assert.That(File.ReadAllBytes(dir.Journal)).IsEquivalentTo(bytes);
        await Assert.That(Directory.GetFiles(dir.Data, "journal.jsonl.torn-*")).IsEmpty();
    }

    [Test]
    public async Task A_sequence_number_that_goes_back_in_the_middle_stops_start_up()
    {
        using var dir = new TempDir();
        await CreateJobs(dir.Data, 4);
        var lines = File.ReadAllLines(dir.Journal);
        File.WriteAllLines(dir.Journal, [lines[0], lines[2], lines[1], lines[3]]);
        var error = Assert.Throws<StartupException>(() => new Rig(dir.Data).Dispose());
        await Assert.That(error!.Message).Contains("line 3: sequence number");
    }

    [Test]
    public async Task A_line_longer_than_any_record_stops_start_up()
    {
        using var dir = new TempDir();
        await CreateJobs(dir.Data, 2);
        using (var journal = File.Open(dir.Journal, FileMode.Append))
            journal.Write(Filled(JournalReader.LineLengthMax + 1));
        var error = Assert.Throws<StartupException>(() => new Rig(dir.Data).Dispose());
        await Assert.That(error!.Message).Contains("line 3: line longer than");
    }

    static byte[] Filled(int length)
    {
        var bytes = new byte[length];
        bytes.AsSpan().Fill((byte)'x');
        return bytes;
    }

    [Test]
    public async Task A_second_opener_of_the_same_directory_is_refused()
    {
        using var dir = new TempDir();
        using var first = new Rig(dir.Data);
        var error = Assert.Throws<StartupException>(() => new Rig(dir.Data).Dispose());
        await Assert.That(error!.Message).Contains("in use by another ksana process");
    }

    [Test]
    public async Task A_failed_write_is_undone_in_memory_and_loses_nothing_acknowledged()
    {
        using var dir = new TempDir();
        var kept = await CreateJobs(dir.Data, 2);
        using (var rig = new Rig(dir.Data))
        {
            await rig.Data.Journal.FlushAsync();
            rig.Data.Journal.BeforeWrite = () => throw new IOException("No space left on device");
            await Assert.That((await rig.Jobs.CreateAsync(Rig.Every(TimeSpan.FromMinutes(1)))).Refusal).IsEqualTo(Refusal.Unavailable);
            await Assert.That((await rig.Jobs.PauseAsync(kept[0])).Refusal).IsEqualTo(Refusal.Unavailable);
            await Assert.That(rig.Data.Table.Count).IsEqualTo(2);
            await Assert.That(rig.Jobs.Get(kept[0])!.Job.Spec.Enabled).IsTrue();

            rig.Data.Journal.BeforeWrite = null; // the disk has room again
            var later = await rig.CreateAsync(Rig.Every(TimeSpan.FromMinutes(1)));
            await Assert.That(rig.Jobs.Get(later.Id)).IsNotNull();
        }
        using (var rig = new Rig(dir.Data))
        {
            await Assert.That(rig.Data.Table.Count).IsEqualTo(3);
            await Assert.That(rig.Jobs.Get(kept[0])!.Job.Spec.Enabled).IsTrue();
        }
    }

    [Test]
    public async Task The_journal_stays_bounded_under_endless_updates()
    {
        using var dir = new TempDir();
        const long slack = 1 << 20;
        Guid[] ids;
        using (var rig = new Rig(dir.Data, compactionSlackBytes: slack))
        {
            ids = new Guid[3];
            for (var i = 0; i < ids.Length; i++) ids[i] = (await rig.CreateAsync(Rig.Every(TimeSpan.FromMinutes(1)))).Id;
            Task last = Task.CompletedTask;
            long peak = 0;
            for (var n = 0; n < 100_000; n++)
            {
                var name = $"rename-{n}";
                last = rig.Data.Table.Update(ids[n % 3], j => j with { Spec = j.Spec with { Name = name } })!.Value.Durable;
                if (n % 1000 == 999)
                {
                    await last;
                    peak = Math.Max(peak, rig.Data.Journal.FileLength);
                }
            }
            await last;
            // Uncompacted, 100 000 job lines would be tens of megabytes.
            await Assert.That(rig.Data.Journal.Compactions).IsGreaterThan(1);
            await Assert.That(peak).IsLessThan(4 * slack);
        }
        await Assert.That(new FileInfo(dir.Journal).Length).IsLessThan(4 * slack);
        using (var rig = new Rig(dir.Data))
        {
            await Assert.That(rig.Jobs.Get(ids[0])!.Job.Spec.Name).IsEqualTo("rename-99999");
            await Assert.That(rig.Jobs.Get(ids[1])!.Job.Spec.Name).IsEqualTo("rename-99997");
            await Assert.That(rig.Jobs.Get(ids[2])!.Job.Spec.Name).IsEqualTo("rename-99998");
        }
    }

    /// <summary>A journal of its own in an empty data directory, with no table behind it: the caller attaches a snapshot.</summary>
    static Journal Bare(TempDir dir)
    {
        Directory.CreateDirectory(dir.Data);
        return new Journal(dir.Data, 0, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
    }

    /// <summary>
    /// While a compaction writes its snapshot out, the journal names the last change in it, so that
    /// run histories do not write over rows the snapshot shows (RunHistory.Overwrite); once it is
    /// written, nothing is pinned.
    /// </summary>
    [Test]
    public async Task A_compaction_pins_its_snapshot_until_it_is_written()
    {
        using var dir = new TempDir();
        using var journal = Bare(dir);
        var gate = new Lock();
        using var reading = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        IEnumerable<Change> Snapshot()
        {
            yield return Change.Removed(Guid.NewGuid());
            reading.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            yield return Change.Removed(Guid.NewGuid());
        }
        journal.Attach(gate, _ => { }, () => (2, Snapshot()));
        await Assert.That(journal.PinnedNumber).IsEqualTo(long.MaxValue);
        Task written;
        lock (gate)
        {
            journal.Append(Change.Removed(Guid.NewGuid()), 1, urgent: true);
            written = journal.Append(Change.Removed(Guid.NewGuid()), 2, urgent: true);
        }
        await written;
        journal.RequestCompaction();
        await Assert.That(reading.Wait(TimeSpan.FromSeconds(10))).IsTrue();
        // The snapshot holds the table as of change 2; a change after it does not move the pin.
        await Assert.That(journal.PinnedNumber).IsEqualTo(2L);
        lock (gate) written = journal.Append(Change.Removed(Guid.NewGuid()), 3, urgent: true);
        await written;
        await Assert.That(journal.PinnedNumber).IsEqualTo(2L);
        release.Set();
        // The writer finishes the compaction at its next batch.
        for (var i = 0; i < 200 && journal.Compactions == 0; i++)
        {
            lock (gate) written = journal.Append(Change.Removed(Guid.NewGuid()), 4 + i, urgent: true);
            await written;
            await Task.Delay(10);
        }
        await Assert.That(journal.Compactions).IsEqualTo(1);
        await Assert.That(journal.PinnedNumber).IsEqualTo(long.MaxValue);
    }

    /// <summary>
    /// A compaction's snapshot is garbage once the compaction is finished: it holds every entry and
    /// every history as they were, entries that later changes replace. A variable of the writer's
    /// loop used to keep it until the next compaction (4.8 MB at 100 000 jobs, more with runs).
    /// </summary>
    [Test]
    public async Task A_finished_compaction_leaves_its_snapshot_to_the_collector()
    {
        using var dir = new TempDir();
        using var journal = Bare(dir);
        var gate = new Lock();
        var taken = new List<WeakReference>();
        journal.Attach(gate, _ => { }, () =>
        {
            var snapshot = new Change[] { Change.Removed(Guid.NewGuid()) };
            taken.Add(new WeakReference(snapshot));
            return (1, snapshot);
        });
        var number = 0L;
        async Task Append()
        {
            Task written;
            lock (gate) written = journal.Append(Change.Removed(Guid.NewGuid()), ++number, urgent: true);
            await written;
        }
        await Append();
        journal.RequestCompaction();
        for (var i = 0; i < 200 && journal.Compactions == 0; i++)
        {
            await Append();
            await Task.Delay(10);
        }
        await Assert.That(journal.Compactions).IsEqualTo(1);
        // A batch after the one that finished it: the writer has since waited for work at least once.
        await Append();
        await Append();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        await Assert.That(taken.Count).IsEqualTo(1);
        await Assert.That(taken[0].IsAlive).IsFalse();
    }

    /// <summary>
    /// A job firing every second for five minutes, with a compaction every few dozen runs: its
    /// history is a ring that wraps many times while compactions write it out. After a restart the
    /// journal gives back the same runs, newest first. (That a snapshot's rows are not written over
    /// while it is written is the pin's test above and the model test of RunHistoryTests: here the
    /// snapshot is written long before eight more runs come.)
    /// </summary>
    [Test]
    public async Task Runs_written_while_compactions_run_read_back_the_same_after_a_restart()
    {
        using var dir = new TempDir();
        Guid id;
        string[] before;
        int compactions;
        using (var rig = new Rig(dir.Data, compactionSlackBytes: 4 << 10))
        {
            id = (await rig.CreateAsync(Rig.Every(TimeSpan.FromSeconds(1)))).Id;
            // A second at a time, each written out before the next: the journal grows in small
            // batches, so compactions start (and write on their own thread) between them.
            for (var second = 0; second < 300; second++)
            {
                await rig.AdvanceAsync(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500));
                await rig.Data.Table.FlushAsync();
            }
            before = rig.Runs(id).Select(r => $"{r.RunId} {r.Status} {r.ScheduledAt:O}").ToArray();
            compactions = rig.Data.Journal.Compactions;
        }
        await Assert.That(compactions).IsGreaterThan(3).Because($"{compactions} compactions, {before.Length} runs");
        await Assert.That(before.Length).IsEqualTo(20);
        using (var rig = new Rig(dir.Data))
            await Assert.That(rig.Runs(id).Select(r => $"{r.RunId} {r.Status} {r.ScheduledAt:O}").ToArray()).IsEquivalentTo(before, TUnit.Assertions.Enums.CollectionOrdering.Matching);
    }

    [Test]
    public async Task Runs_kept_per_job_are_bounded_and_newest_first()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var job = await rig.CreateAsync(Rig.Every(TimeSpan.FromSeconds(1)));
        await rig.AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500));
        var runs = rig.Runs(job.Id);
        await Assert.That(runs.Length).IsEqualTo(20);
        await Assert.That(runs.Select(r => r.ScheduledAt)).IsEquivalentTo(runs.Select(r => r.ScheduledAt).OrderByDescending(t => t), TUnit.Assertions.Enums.CollectionOrdering.Matching);
    }

    [Test]
    [Arguments(true)]
    [Arguments(false)]
    public async Task Slots_skipped_behind_a_run_read_back_after_a_reopen_as_they_were_kept(bool runRecordedFirst)
    {
        using var dir = new TempDir();
        Guid jobId;
        string kept;
        var at = Rig.T0.AddHours(1);
        using (var rig = new Rig(dir.Data))
        {
            jobId = (await rig.CreateAsync(Rig.Every(TimeSpan.FromHours(1)))).Id;
            var table = rig.Data.Table;
            var runId = Guid.NewGuid();
            var running = new Run(runId, jobId, RunTrigger.Schedule, RunStatus.Running, at, null, [], null);
            var series = Guid.NewGuid();
            Run Skipped(int count) =>
                Run.Skipped(series, jobId, new SkipSeries(count, at.AddSeconds(1), at.AddSeconds(count), runId), at.AddSeconds(count));
            // Under overload the run may wait for a worker, and the series skipped behind it open before its first record.
            Run[] written = runRecordedFirst
                ? [running, Skipped(1), Skipped(3), running with { Status = RunStatus.Succeeded, FinishedAt = at.AddSeconds(4) }]
                : [Skipped(1), running, Skipped(3), running with { Status = RunStatus.Succeeded, FinishedAt = at.AddSeconds(4) }];
            foreach (var run in written) await table.PutRun(run);
            kept = string.Join(" | ", rig.Runs(jobId).Select(r => $"{r.RunId}:{r.Status}:{r.Error}"));
            await Assert.That(rig.Runs(jobId)[0].RunId).IsEqualTo(series);
        }
        using var reopened = new Rig(dir.Data);
        var read = reopened.Runs(jobId);
        await Assert.That(string.Join(" | ", read.Select(r => $"{r.RunId}:{r.Status}:{r.Error}"))).IsEqualTo(kept);
        // The record comes back as the series it says, not as text only.
        await Assert.That(read[0].Skips).IsEqualTo(new SkipSeries(3, at.AddSeconds(1), at.AddSeconds(3), read[1].RunId));
    }
}
