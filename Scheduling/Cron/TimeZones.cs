using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Ksana.Scheduling.Cron;

/// <summary>
/// IANA time zones carried inside the binary (SPEC §7): Ksana must behave the same on a minimal
/// image without /usr/share/zoneinfo, so the system database is never read, whatever TZDIR says.
/// The data is Debian's tzdata, packed at build time by TimeZoneData.targets (its header
/// describes the blob).
/// </summary>
/// <remarks>
/// Zones are real <see cref="TimeZoneInfo"/> objects built by the runtime's own TZif reader, the
/// private constructor <c>TimeZoneInfo(byte[] data, string id, bool dstDisabled)</c> of
/// TimeZoneInfo.Unix.cs, which is what <c>FindSystemTimeZoneById</c> calls on Linux after
/// reading the file. We chose it over a TZif and POSIX-rule parser of our own because it is the
/// code every .NET program on Linux already trusts for the same bytes (historic transitions, the
/// footer rule for years past the table, 30-minute and negative DST), so zones behave exactly as
/// they would with the system database, and it costs a few lines. It is reached through
/// <see cref="UnsafeAccessorAttribute"/>, which native AOT compiles to a direct call (no
/// reflection, no trim warning). If a future runtime renames it, the call throws
/// MissingMethodException, and the zone tests fail at once rather than zones silently drifting.
/// </remarks>
public static class TimeZones
{
    /// <summary>The time zone a cron schedule uses when it names none.</summary>
    public const string DefaultName = "UTC";

    const string ResourceName = "Ksana.tzdata";
    const int NameLengthMax = 200;

    /// <summary>The IANA tz data release embedded at build time, e.g. "2025b".</summary>
    public static string DataVersion => Data.Version;

    /// <summary>Every zone and link name that <see cref="TryFind"/> accepts, sorted.</summary>
    public static IReadOnlyList<string> Names => Data.SortedNames;

    static readonly ConcurrentDictionary<string, TimeZoneInfo> Loaded = new(StringComparer.Ordinal);

    /// <summary>
    /// Finds an IANA zone by name: exact first, then ignoring case (a name differing only in
    /// case is unambiguous in the IANA list). Links resolve to their zone's rules but keep the
    /// asked-for id. On failure the error names the zone and suggests close names.
    /// </summary>
    public static bool TryFind(string? name, out TimeZoneInfo? zone, out string? error)
    {
        zone = null;
        error = null;
        if (string.IsNullOrEmpty(name))
        {
            error = "the time zone is empty; use an IANA name such as Europe/Berlin, or UTC";
            return false;
        }
        if (Loaded.TryGetValue(name, out zone)) return true;
        if (name.Length > NameLengthMax || !Data.TryResolve(name, out string canonicalName, out int zoneIndex))
        {
            error = UnknownZoneMessage(name);
            return false;
        }
        zone = Loaded.GetOrAdd(canonicalName, n => Build(n, zoneIndex));
        if (!ReferenceEquals(name, canonicalName)) Loaded.TryAdd(name, zone);
        return true;
    }

    /// <summary>Builds a zone from the embedded bytes without the cache (tests prove no file is read).</summary>
    internal static TimeZoneInfo LoadUncached(string name)
    {
        if (!Data.TryResolve(name, out string canonicalName, out int zoneIndex))
            throw new ArgumentException(UnknownZoneMessage(name), nameof(name));
        return Build(canonicalName, zoneIndex);
    }

    static TimeZoneInfo Build(string name, int zoneIndex)
    {
        // The runtime's own UTC object for the common default; it never touches the disk either.
        if (name == "UTC") return TimeZoneInfo.Utc;
        return CreateFromTzif(Data.ZoneBytes(zoneIndex), name, dstDisabled: false);
    }

    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    static extern TimeZoneInfo CreateFromTzif(byte[] data, string id, bool dstDisabled);

    static string UnknownZoneMessage(string name)
    {
        string shown = name.Length > 60 ? name[..60] + "…" : name;
        var close = ZoneSuggestions.Closest(name, Data.SortedNames);
        return close.Count switch
        {
            0 => $"unknown time zone '{shown}'; use an IANA name such as Europe/Berlin, or UTC",
            1 => $"unknown time zone '{shown}'; did you mean {close[0]}?",
            _ => $"unknown time zone '{shown}'; did you mean {string.Join(", ", close.GetRange(0, close.Count - 1))} or {close[^1]}?",
        };
    }

    /// <summary>The unpacked blob, read once on first use (about 300 KB in memory).</summary>
    static TimeZoneBlob Data => BlobHolder.Value;

    static class BlobHolder
    {
        internal static readonly TimeZoneBlob Value = TimeZoneBlob.Read(typeof(TimeZones).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the embedded resource {ResourceName} is missing: the build did not run TimeZoneData.targets"));
    }
}
