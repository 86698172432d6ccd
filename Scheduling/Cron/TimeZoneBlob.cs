using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Ksana.Scheduling.Cron;

/// <summary>The embedded zone table: names, links and the TZif bytes of each zone.</summary>
sealed class TimeZoneBlob
{
    public required string Version { get; init; }
    public required string[] SortedNames { get; init; }
    readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> _byUpperName = new(StringComparer.Ordinal);
    readonly List<(int Offset, int Length)> _zones = [];
    byte[] _data = [];

    public bool TryResolve(string name, out string canonicalName, out int zoneIndex)
    {
        canonicalName = name;
        if (!_byName.TryGetValue(name, out zoneIndex))
        {
            if (!_byUpperName.TryGetValue(name.ToUpperInvariant(), out string? cased)) return false;
            canonicalName = cased;
            zoneIndex = _byName[cased];
        }
        return true;
    }

    // A fresh copy each time: the runtime's constructor keeps no reference, but the array is ours.
    public byte[] ZoneBytes(int zoneIndex) => _data.AsSpan(_zones[zoneIndex].Offset, _zones[zoneIndex].Length).ToArray();

    public static TimeZoneBlob Read(Stream resource)
    {
        using var input = resource;
        Span<byte> head = stackalloc byte[6];
        input.ReadExactly(head);
        if (!head[..4].SequenceEqual("KSTZ"u8) || head[4] != 1)
            throw new InvalidDataException("the embedded time-zone data has an unknown format");
        var version = new byte[head[5]];
        input.ReadExactly(version);

        using var deflate = new DeflateStream(input, CompressionMode.Decompress);
        using var body = new MemoryStream();
        deflate.CopyTo(body);
        var bytes = body.GetBuffer().AsSpan(0, (int)body.Length);

        int at = 0;
        var zoneNames = new string[ReadInt32(bytes, ref at)];
        var lengths = new int[zoneNames.Length];
        for (int i = 0; i < zoneNames.Length; i++)
        {
            zoneNames[i] = ReadName(bytes, ref at);
            lengths[i] = ReadInt32(bytes, ref at);
        }
        var linkNames = new string[ReadInt32(bytes, ref at)];
        var linkZones = new int[linkNames.Length];
        for (int i = 0; i < linkNames.Length; i++)
        {
            linkNames[i] = ReadName(bytes, ref at);
            linkZones[i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes[at..]);
            at += 2;
        }
        string[] allNames = [.. zoneNames, .. linkNames];
        Array.Sort(allNames, StringComparer.Ordinal);

        var blob = new TimeZoneBlob
        {
            Version = Encoding.ASCII.GetString(version),
            SortedNames = allNames,
        };
        blob._data = bytes[at..].ToArray();
        int offset = 0;
        for (int i = 0; i < zoneNames.Length; i++)
        {
            blob._zones.Add((offset, lengths[i]));
            offset += lengths[i];
            blob._byName[zoneNames[i]] = i;
        }
        if (offset != blob._data.Length) throw new InvalidDataException("the embedded time-zone data is truncated");
        for (int i = 0; i < linkNames.Length; i++) blob._byName[linkNames[i]] = linkZones[i];
        // Zones win over links when two names differ only in case; none do in tzdata today.
        foreach (var name in zoneNames) blob._byUpperName.TryAdd(name.ToUpperInvariant(), name);
        foreach (var name in linkNames) blob._byUpperName.TryAdd(name.ToUpperInvariant(), name);
        return blob;
    }

    static int ReadInt32(ReadOnlySpan<byte> bytes, ref int at)
    {
        int value = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
        at += 4;
        return value;
    }

    static string ReadName(ReadOnlySpan<byte> bytes, ref int at)
    {
        int length = bytes[at];
        string name = Encoding.ASCII.GetString(bytes.Slice(at + 1, length));
        at += 1 + length;
        return name;
    }
}
