using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Tests.Unit;

/// <summary>
/// A job's runs are written into its entry in place (JobEntry.WriteRuns): readers without the
/// table's lock still see whole histories, and a write the journal loses is still undone.
/// </summary>
public class JobEntryTests
{
    static readonly Guid JobId = Guid.NewGuid();
    static readonly DateTimeOffset T0 = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    static Run Ran(int second, RunStatus status = RunStatus.Succeeded) =>
        new(Guid.NewGuid(), JobId, RunTrigger.Schedule, status, T0.AddSeconds(second), status == RunStatus.Running ? null : T0.AddSeconds(second).AddMilliseconds(3),
            status == RunStatus.Running ? [] : [new Attempt(1, T0.AddSeconds(second).AddMilliseconds(1), 2, 204, null)], null);

    /// <summary>
    /// The history is 48 bytes, written and read in several steps: a reader that overlapped a write
    /// would otherwise get one history's buffer with another's bounds.
    /// </summary>
    [Test]
    public async Task A_reader_without_the_lock_never_sees_part_of_one_history_and_part_of_another()
    {
        Run[] shortRuns = [Ran(1)];
        Run[] longRuns = [Ran(9, RunStatus.Running), Ran(8), Ran(7), Ran(6)];
        var one = RunHistory.Of(shortRuns);
        var other = RunHistory.Of(longRuns);
        var entry = new JobEntry(new Job(JobId, Rig.Every(TimeSpan.FromSeconds(1)), T0, T0, T0, OnceOutcome.Pending, 1), one);
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                entry.WriteRuns(other);
                entry.WriteRuns(one);
            }
        });
        var reads = 0;
        var torn = 0;
        var deadline = DateTime.UtcNow.AddSeconds(1);
        while (DateTime.UtcNow < deadline || reads < 200_000)
        {
            reads++;
            try
            {
                var runs = entry.Runs;
                var whole = runs.Length switch
                {
                    1 => runs[0].RunId == shortRuns[0].RunId,
                    4 => runs[0].RunId == longRuns[0].RunId && runs[3].RunId == longRuns[3].RunId,
                    _ => false,
                };
                if (!whole) torn++;
            }
            catch (Exception)
            {
                torn++;
            }
        }
        stop.Cancel();
        await writer;
        await Assert.That(torn).IsEqualTo(0).Because($"{torn} of {reads} reads mixed two histories");
    }

    [Test]
    public async Task A_run_record_the_journal_loses_is_undone_in_the_entry_it_was_written_into()
    {
        using var dir = new TempDir();
        using var rig = new Rig(dir.Data);
        var once = await rig.CreateAsync(Rig.Once(Rig.T0.AddHours(1)));
        var every = await rig.CreateAsync(Rig.Every(TimeSpan.FromMinutes(1)));
        var table = rig.Data.Table;
        // A once job that has fired, its run still in flight: it shows as scheduled until the run ends.
        await table.Update(once.Id, j => j with { Once = OnceOutcome.Fired })!.Value.Durable;
        var running = new Run(Guid.NewGuid(), once.Id, RunTrigger.Schedule, RunStatus.Running, Rig.T0.AddHours(1), null, [], null);
        await table.PutRun(running, urgent: true);
        await Assert.That(table.Get(once.Id)!.State).IsEqualTo(JobState.Scheduled);
        var kept = table.Get(every.Id)!;
        var before = table.Get(once.Id)!;
        var counts = table.CountByState();

        rig.Data.Journal.BeforeWrite = () => throw new IOException("No space left on device");
        var finished = running with { Status = RunStatus.Succeeded, FinishedAt = Rig.T0.AddHours(1).AddSeconds(1), Attempts = [new Attempt(1, Rig.T0.AddHours(1), 2, 204, null)] };
        await Assert.That(async () => await table.PutRun(finished, urgent: true)).Throws<ChangeLogUnavailableException>();
        // A run of another job, and a change of the job itself after its run, all lost.
        await Assert.That(async () => await table.PutRun(Ran(1) with { JobId = every.Id }, urgent: true)).Throws<ChangeLogUnavailableException>();
        await Assert.That(async () =>
        {
            var ended = table.PutRun(finished, urgent: false);
            var paused = table.Update(once.Id, j => j with { Spec = j.Spec with { Enabled = false } })!.Value.Durable;
            await Task.WhenAll(ended, paused);
        }).Throws<ChangeLogUnavailableException>();

        var after = table.Get(once.Id)!;
        await Assert.That(after.Runs.Select(r => (r.RunId, r.Status)).ToArray()).IsEquivalentTo([(running.RunId, RunStatus.Running)]);
        await Assert.That(after.Job.Spec.Enabled).IsTrue();
        await Assert.That(after.State).IsEqualTo(JobState.Scheduled);
        await Assert.That(ReferenceEquals(after, before)).IsTrue().Because("an entry whose runs alone changed is the same entry");
        await Assert.That(table.Get(every.Id)!.Runs.Length).IsEqualTo(0);
        await Assert.That(ReferenceEquals(table.Get(every.Id), kept)).IsTrue();
        await Assert.That(table.CountByState()).IsEquivalentTo(counts);

        rig.Data.Journal.BeforeWrite = null;
        await table.PutRun(finished, urgent: true);
        await Assert.That(table.Get(once.Id)!.Runs[0].Status).IsEqualTo(RunStatus.Succeeded);
        await Assert.That(table.Get(once.Id)!.State).IsEqualTo(JobState.Completed);
        var now = table.CountByState();
        await Assert.That((now[(int)JobState.Scheduled], now[(int)JobState.Completed]))
            .IsEqualTo((counts[(int)JobState.Scheduled] - 1, counts[(int)JobState.Completed] + 1));
    }
    /// <summary>
    /// A reader that copies a job's runs while the job writes over a row it read gets them again
    /// from the newer history (JobEntry.ReadRuns), never a mix of two runs.
    /// </summary>
    [Test]
    public async Task ReadRuns_reads_again_when_the_job_wrote_over_a_row_meanwhile()
    {
        var history = RunHistory.Empty;
        long number = 0;
        RunHistory Written(RunHistory h, int second) =>
            RunHistory.Upsert(h, Ran(second), 20, new RunHistory.Overwrite(++number, number - 1, long.MaxValue));
        for (var i = 0; i < 100; i++) history = Written(history, i);
        var entry = new JobEntry(new Job(JobId, Rig.Every(TimeSpan.FromSeconds(1)), T0, T0, T0, OnceOutcome.Pending, 1), history);

        var reads = 0;
        var seconds = entry.ReadRuns(runs =>
        {
            var read = runs.Select(r => (int)(r.ScheduledAt - T0).TotalSeconds).ToArray();
            // The first time, the job runs on 30 times while this reader is between rows and answer.
            if (reads++ == 0)
            {
                var h = runs;
                for (var i = 100; i < 130; i++) h = Written(h, i);
                entry.WriteRuns(h);
            }
            return read;
        });

        await Assert.That(reads).IsEqualTo(2);
        await Assert.That(seconds).IsEquivalentTo(Enumerable.Range(110, 20).Reverse().ToArray());
        await Assert.That(entry.ReadRuns(runs => runs.Length)).IsEqualTo(20);
    }
}
