using System.Numerics;
using System.Runtime.CompilerServices;

namespace Ksana.Scheduling;

/// <summary>
/// The job table's index by id. It is an open-addressed table probed linearly, whose slots hold the
/// entries themselves (an entry's job id is its key), beside each entry's hash.
///
/// A job costs 12 bytes a slot, 16 at 100,000 jobs. A <c>ConcurrentDictionary</c> node cost
/// 56 bytes and a bucket: 6.6 MB at 100,000 jobs. That table also made every node again each time it
/// grew.
///
/// One writer at a time: the table's lock, or replay's one thread. Readers take no lock.
/// - A reader reads the table once. A write stores one reference into one slot (after the slot's
///   hash), so the reader sees the entry before or after that write, never half of it.
/// - A removed entry leaves a tombstone. A slot is never used again by the same table, so an entry
///   never moves while a reader walks past it.
/// - Growth, or clearing tombstones, builds a new table and publishes it whole. A reader still on
///   the old one sees the state as it was.
/// </summary>
internal sealed class JobIndex
{
    /// <summary>
    /// Most slots used (entries and tombstones) of every 8. At 100,000 jobs a table of 131,072 slots
    /// is then 76 % full, and a lookup reads 2.6 slots on average, which are next to each other in
    /// memory. A missing id reads about 9.
    /// </summary>
    const int FillEighths = 7;

    const int CapacityMin = 16;

    static readonly object Tombstone = new();

    sealed class Table
    {
        public readonly object?[] Slots;
        public readonly int[] Hashes;
        public readonly int Shift; // 32 − log2(capacity): a hash's home slot is its top bits after mixing
        public int Used;           // slots ever filled: entries and tombstones

        public Table(int capacity)
        {
            Slots = new object?[capacity];
            Hashes = new int[capacity];
            Shift = 32 - BitOperations.Log2((uint)capacity);
        }

        public int Home(int hash) => (int)(((uint)hash * 0x9E3779B9u) >> Shift);
    }

    Table _table;
    int _count;

    public JobIndex(int expected) => _table = new Table(CapacityFor(expected));

    public int Count => Volatile.Read(ref _count);

    /// <summary>The table's slots (tests).</summary>
    internal int Capacity => Volatile.Read(ref _table).Slots.Length;

    static int CapacityFor(int entries) =>
        (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(CapacityMin, (long)entries * 8 / FillEighths + 1));

    static int Hash(Guid id) => id.GetHashCode();

    /// <summary>The entry of job <paramref name="id"/>, or null.</summary>
    public JobEntry? Get(Guid id)
    {
        Find(Volatile.Read(ref _table), id, Hash(id), out var entry);
        return entry;
    }

    /// <summary>
    /// The slot that holds job <paramref name="id"/>'s entry in <paramref name="table"/>, or -1, and
    /// that entry as it was read. A reader must keep what it read: read again, the slot may hold a
    /// tombstone by then.
    /// </summary>
    static int Find(Table table, Guid id, int hash, out JobEntry? entry)
    {
        var slots = table.Slots;
        var mask = slots.Length - 1;
        for (int i = table.Home(hash), probes = 0; probes < slots.Length; i = (i + 1) & mask, probes++)
        {
            var slot = Volatile.Read(ref slots[i]);
            if (slot is null) break;
            if (table.Hashes[i] != hash || ReferenceEquals(slot, Tombstone)) continue;
            entry = Unsafe.As<JobEntry>(slot);
            if (entry.Job.Id == id) return i;
        }
        entry = null;
        return -1;
    }

    /// <summary>Adds <paramref name="entry"/>, or replaces the entry of its job. Writers only.</summary>
    public void Set(JobEntry entry) => Put(entry, replace: true);

    /// <summary>Adds <paramref name="entry"/> unless its job has one already; whether it did. Writers only.</summary>
    public bool TryAdd(JobEntry entry) => Put(entry, replace: false);

    /// <summary>One lookup for both: replay adds most jobs with <see cref="TryAdd"/>, one per job line.</summary>
    bool Put(JobEntry entry, bool replace)
    {
        var hash = Hash(entry.Job.Id);
        var table = _table;
        var at = Find(table, entry.Job.Id, hash, out _);
        if (at >= 0)
        {
            if (replace) Volatile.Write(ref table.Slots[at], entry);
            return false;
        }
        if ((table.Used + 1) * 8 > table.Slots.Length * FillEighths) table = Rebuild(_count + 1);
        Insert(table, entry, hash);
        _count++;
        return true;
    }

    /// <summary>Removes job <paramref name="id"/>'s entry; whether there was one. Writers only.</summary>
    public bool Remove(Guid id)
    {
        var at = Find(_table, id, Hash(id), out _);
        if (at < 0) return false;
        Volatile.Write(ref _table.Slots[at], Tombstone);
        _count--;
        return true;
    }

    /// <summary>Makes the table no larger than its entries need (after replay, whose estimate may have been high). Writers only.</summary>
    public void TrimExcess()
    {
        if (CapacityFor(_count) < _table.Slots.Length) Rebuild(_count);
    }

    /// <summary>
    /// Every entry, each as the walk passes it, without a lock or a copy (see <see cref="JobTable.Entries"/>).
    /// The walk stays on the table it started with: an entry added after a growth is not seen.
    /// </summary>
    public IEnumerable<JobEntry> Entries
    {
        get
        {
            var slots = Volatile.Read(ref _table).Slots;
            for (var i = 0; i < slots.Length; i++)
                if (Volatile.Read(ref slots[i]) is JobEntry entry) yield return entry;
        }
    }

    static void Insert(Table table, JobEntry entry, int hash)
    {
        var mask = table.Slots.Length - 1;
        var i = table.Home(hash);
        while (table.Slots[i] is not null) i = (i + 1) & mask;
        // The hash first: a reader that sees the entry also sees its hash.
        table.Hashes[i] = hash;
        Volatile.Write(ref table.Slots[i], entry);
        table.Used++;
    }

    /// <summary>A new table, sized for <paramref name="entries"/>, holding every entry and no tombstone, published whole.</summary>
    Table Rebuild(int entries)
    {
        var old = _table;
        var table = new Table(CapacityFor(entries));
        for (var i = 0; i < old.Slots.Length; i++)
            if (old.Slots[i] is JobEntry entry) Insert(table, entry, old.Hashes[i]);
        Volatile.Write(ref _table, table);
        return table;
    }
}
