using System.Collections.Concurrent;
using Ksana.Scheduling.Schedules;

namespace Ksana.Records;

/// <summary>
/// The schedules one replay has read, by the bytes of their schedule object, shared by its decoding
/// threads. Jobs share schedules (<c>"every": "1m"</c>, <c>0 * * * *</c> in one zone), and a
/// record's schedule depends on its bytes alone (a record is not checked against now), so the same
/// bytes are read once and their jobs share the one instance. Dropped with the replay, and bounded:
/// a journal of schedules all different costs at most <see cref="Capacity"/> of them meanwhile.
/// </summary>
public sealed class ScheduleMemo
{
    public const int Capacity = 1 << 16;

    readonly ConcurrentDictionary<byte[], Schedule> _read = new(ByteContent.Instance);
    readonly ConcurrentDictionary<byte[], Schedule>.AlternateLookup<ReadOnlySpan<byte>> _byBytes;
    int _count;

    public ScheduleMemo() => _byBytes = _read.GetAlternateLookup<ReadOnlySpan<byte>>();

    /// <summary>The schedule read from exactly these bytes before, if any.</summary>
    public Schedule? Find(ReadOnlySpan<byte> written) => _byBytes.TryGetValue(written, out var schedule) ? schedule : null;

    /// <summary>Keeps what <paramref name="written"/> read as; returns the instance jobs share (another thread's, when it was first).</summary>
    public Schedule Remember(ReadOnlySpan<byte> written, Schedule schedule)
    {
        if (Volatile.Read(ref _count) >= Capacity) return schedule;
        if (_byBytes.TryAdd(written, schedule))
        {
            Interlocked.Increment(ref _count);
            return schedule;
        }
        return _byBytes.TryGetValue(written, out var first) ? first : schedule;
    }

    /// <summary>Byte arrays compared by content, and looked up by a span without copying it.</summary>
    sealed class ByteContent : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly ByteContent Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] bytes) => GetHashCode((ReadOnlySpan<byte>)bytes);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
