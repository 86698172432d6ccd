using Ksana.Scheduling;

namespace Ksana.Tests.Unit;

/// <summary>
/// The job table's index by id (JobIndex): one writer at a time, readers without a lock, tombstones
/// for removed jobs, and growth by a new table published whole.
/// </summary>
public class JobIndexTests
{
    static readonly JobSpec Spec = Rig.Every(TimeSpan.FromSeconds(1));

    static JobEntry Entry(Guid id, long version = 1) =>
        new(new Job(id, Spec, Rig.T0, Rig.T0, Rig.T0, OnceOutcome.Pending, version), []);

    [Test]
    public async Task An_entry_is_found_by_its_job_id_replaced_whole_and_removed()
    {
        var index = new JobIndex(0);
        var id = Guid.CreateVersion7();
        await Assert.That(index.Get(id)).IsNull();
        await Assert.That(index.TryAdd(Entry(id))).IsTrue();
        await Assert.That(index.TryAdd(Entry(id, 2))).IsFalse();
        await Assert.That(index.Get(id)!.Job.Version).IsEqualTo(1L);
        index.Set(Entry(id, 3));
        await Assert.That(index.Get(id)!.Job.Version).IsEqualTo(3L);
        await Assert.That(index.Count).IsEqualTo(1);
        await Assert.That(index.Remove(id)).IsTrue();
        await Assert.That(index.Remove(id)).IsFalse();
        await Assert.That(index.Get(id)).IsNull();
        await Assert.That(index.Count).IsEqualTo(0);
        // An undone delete brings the same id back.
        index.Set(Entry(id, 4));
        await Assert.That(index.Get(id)!.Job.Version).IsEqualTo(4L);
        await Assert.That(index.Count).IsEqualTo(1);
    }

    /// <summary>Random adds, replacements and removals, checked against a dictionary after every step.</summary>
    [Test]
    [Arguments(0)]
    [Arguments(5_000)]
    public async Task Many_changes_leave_it_agreeing_with_a_dictionary(int expected)
    {
        var index = new JobIndex(expected);
        var model = new Dictionary<Guid, JobEntry>();
        var ids = new List<Guid>();
        var random = new Random(7);
        var mismatches = 0;
        for (var step = 0; step < 40_000; step++)
        {
            var op = random.Next(10);
            if (op < 5 || ids.Count == 0)
            {
                var entry = Entry(Guid.CreateVersion7(), step);
                index.Set(entry);
                model[entry.Job.Id] = entry;
                ids.Add(entry.Job.Id);
            }
            else
            {
                var at = random.Next(ids.Count);
                var id = ids[at];
                if (op < 8)
                {
                    var entry = Entry(id, step);
                    index.Set(entry);
                    model[id] = entry;
                }
                else
                {
                    if (index.Remove(id) != model.Remove(id)) mismatches++;
                    ids[at] = ids[^1];
                    ids.RemoveAt(ids.Count - 1);
                }
            }
            var probe = random.Next(3) == 0 ? Guid.CreateVersion7() : ids.Count > 0 ? ids[random.Next(ids.Count)] : Guid.Empty;
            if (!ReferenceEquals(index.Get(probe), model.GetValueOrDefault(probe))) mismatches++;
            if (index.Count != model.Count) mismatches++;
        }
        await Assert.That(mismatches).IsEqualTo(0);
        var walked = index.Entries.ToList();
        await Assert.That(walked.Count).IsEqualTo(model.Count);
        foreach (var entry in walked) await Assert.That(ReferenceEquals(model[entry.Job.Id], entry)).IsTrue();
        // Only tombstones and growth went by: what remains is still found after a trim.
        index.TrimExcess();
        foreach (var (id, entry) in model) await Assert.That(ReferenceEquals(index.Get(id), entry)).IsTrue();
    }

    [Test]
    public async Task An_estimate_that_was_too_high_is_given_back_after_replay()
    {
        var index = new JobIndex(100_000);
        var large = index.Capacity;
        var ids = Enumerable.Range(0, 10).Select(_ => Guid.CreateVersion7()).ToArray();
        foreach (var id in ids) index.Set(Entry(id));
        index.TrimExcess();
        await Assert.That(large).IsGreaterThanOrEqualTo(100_000);
        await Assert.That(index.Capacity).IsLessThan(64);
        foreach (var id in ids) await Assert.That(index.Get(id)!.Job.Id).IsEqualTo(id);
    }

    /// <summary>
    /// A reader whose job is removed while it reads gets the entry or nothing, never the tombstone
    /// left in the entry's slot: taken for an entry, that object's memory would be read as a job.
    /// </summary>
    [Test]
    public async Task A_job_removed_while_it_is_read_is_found_whole_or_not_at_all()
    {
        var index = new JobIndex(64);
        var entries = Enumerable.Range(0, 8).Select(_ => Entry(Guid.CreateVersion7())).ToArray();
        var wrong = 0;
        var reads = 0L;
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 3).Select(seed => Task.Run(() =>
        {
            var random = new Random(seed);
            var mine = 0L;
            while (!stop.IsCancellationRequested)
            {
                var entry = entries[random.Next(entries.Length)];
                var found = index.Get(entry.Job.Id);
                if (found is not null && !ReferenceEquals(found, entry)) Interlocked.Increment(ref wrong);
                mine++;
            }
            Interlocked.Add(ref reads, mine);
        })).ToArray();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 1000)
            foreach (var entry in entries)
            {
                index.Set(entry);
                index.Remove(entry.Job.Id);
            }
        stop.Cancel();
        await Task.WhenAll(readers);
        await Assert.That(reads).IsGreaterThan(1000L);
        await Assert.That(wrong).IsEqualTo(0);
    }

    /// <summary>
    /// Readers without a lock while one writer adds, replaces and removes jobs, growing the table
    /// and leaving tombstones: a job added and never removed is found by every read made after it
    /// was added, and a read never returns another job's entry.
    /// </summary>
    [Test]
    public async Task Readers_without_a_lock_find_every_job_that_stays_while_the_writer_grows_the_table()
    {
        var index = new JobIndex(0);
        var stable = Enumerable.Range(0, 20_000).Select(_ => Guid.CreateVersion7()).ToArray();
        var published = 0;
        var wrong = 0;
        var missing = 0;
        var reads = 0L;
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 3).Select(seed => Task.Run(() =>
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                var known = Volatile.Read(ref published);
                if (known == 0) continue;
                var id = stable[random.Next(known)];
                var found = index.Get(id);
                if (found is null) Interlocked.Increment(ref missing);
                else if (found.Job.Id != id) Interlocked.Increment(ref wrong);
                Interlocked.Increment(ref reads);
            }
        })).ToArray();
        var churn = new List<Guid>();
        var random = new Random(99);
        for (var i = 0; i < stable.Length; i++)
        {
            index.Set(Entry(stable[i]));
            Volatile.Write(ref published, i + 1);
            // Around it: jobs that come and go (tombstones, rebuilds) and replacements of stable ones.
            var passing = Guid.CreateVersion7();
            index.Set(Entry(passing));
            churn.Add(passing);
            if (churn.Count > 500) index.Remove(churn[random.Next(churn.Count)]);
            index.Set(Entry(stable[random.Next(i + 1)], i));
            if (i % 2_000 == 0) await Task.Yield();
        }
        await Task.Delay(100);
        stop.Cancel();
        await Task.WhenAll(readers);
        await Assert.That(reads).IsGreaterThan(1000L);
        await Assert.That(wrong).IsEqualTo(0);
        await Assert.That(missing).IsEqualTo(0);
    }
}
