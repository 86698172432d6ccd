using System.Globalization;
using System.Text.Json;
using Ksana.Scheduling;

namespace Ksana.Tests.Time;

/// One row of rfc3339_cases.json; Utc is the exact instant (any number of fraction digits).
public sealed record Rfc3339Case(int Index, string Input, bool Ok, string? Utc, string Category)
{
    public override string ToString() => $"#{Index} [{Category}] \"{Input}\"";
}

public sealed class Rfc3339Tests
{
    public static IEnumerable<Func<Rfc3339Case>> Cases() =>
        Load().Select(c => (Func<Rfc3339Case>)(() => c));

    private static List<Rfc3339Case> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "vectors", "rfc3339_cases.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new List<Rfc3339Case>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var ok = e.GetProperty("ok").GetBoolean();
            cases.Add(new Rfc3339Case(
                cases.Count,
                e.GetProperty("input").GetString()!,
                ok,
                ok ? e.GetProperty("utc").GetString() : null,
                e.GetProperty("category").GetString()!));
        }
        return cases;
    }

    // Ksana's policy from shared/vectors/README.md: what we accept beyond the strict verdict.
    private static bool Accepted(Rfc3339Case c) => c.Category switch
    {
        "core" => c.Ok,
        "lowercase-t-z" or "sub-ns-fraction" => true,
        "leap-second" or "go-lenient" or "year-edge" or "offset-over-14h" => false,
        _ => throw new InvalidOperationException($"no policy for category {c.Category}"),
    };

    // The vector's instant cut to .NET's 100 ns, in Format's canonical shape.
    private static string TruncateToTicks(string utc)
    {
        var dot = utc.IndexOf('.');
        if (dot < 0)
            return utc;
        var digits = utc[(dot + 1)..^1];
        var kept = digits[..Math.Min(7, digits.Length)].TrimEnd('0');
        return kept.Length == 0 ? utc[..dot] + "Z" : utc[..(dot + 1)] + kept + "Z";
    }

    [Test]
    [MethodDataSource(nameof(Cases))]
    public async Task Parse_follows_policy(Rfc3339Case c)
    {
        var ok = Rfc3339.TryParse(c.Input, out var utc, out var error);
        await Assert.That(ok).IsEqualTo(Accepted(c));
        if (!ok)
        {
            await Assert.That(error).IsNotEmpty();
            await Assert.That(utc).IsEqualTo(default(DateTimeOffset));
            return;
        }
        await Assert.That(error).IsEqualTo("");
        await Assert.That(utc.Offset).IsEqualTo(TimeSpan.Zero);
        var expected = TruncateToTicks(c.Utc!);
        await Assert.That(Rfc3339.Format(utc)).IsEqualTo(expected);
        // Cross-check the instant with the BCL, which is safe on this already-canonical text.
        var bcl = DateTimeOffset.ParseExact(expected, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"],
            CultureInfo.InvariantCulture, DateTimeStyles.None);
        await Assert.That(utc.UtcTicks).IsEqualTo(bcl.UtcTicks);
    }

    [Test]
    [Arguments("2025-09-20T03:00:00", "missing time zone offset")]
    [Arguments("2025-09-20T03:00:00.5", "missing time zone offset")]
    [Arguments("2025-13-01T00:00:00Z", "month out of range")]
    [Arguments("2025-00-01T00:00:00Z", "month out of range")]
    [Arguments("2025-02-29T00:00:00Z", "day out of range")]
    [Arguments("2025-04-31T00:00:00Z", "day out of range")]
    [Arguments("2025-09-20T24:00:00Z", "hour out of range")]
    [Arguments("2025-09-20T03:60:00Z", "minute out of range")]
    [Arguments("2025-09-20T03:00:61Z", "second out of range")]
    [Arguments("1998-12-31T23:59:60Z", "leap second")]
    [Arguments("2025-09-20T03:00:00+14:01", "offset out of range")]
    [Arguments("0000-01-01T00:00:00Z", "outside the supported range")]
    [Arguments("9999-12-31T23:59:59-00:01", "outside the supported range")]
    [Arguments("", "not an RFC 3339 date-time with offset")]
    [Arguments("2025-09-20 03:00:00Z", "not an RFC 3339 date-time with offset")]
    [Arguments("2025-09-20T03:00:00.Z", "not an RFC 3339 date-time with offset")]
    [Arguments("2025-09-20T03:00:00+0200", "not an RFC 3339 date-time with offset")]
    [Arguments("2025-09-20T03:00:00Z ", "not an RFC 3339 date-time with offset")]
    [Arguments("2025-09-20", "not an RFC 3339 date-time with offset")]
    public async Task Rejects_with_a_specific_message(string input, string fragment)
    {
        await Assert.That(Rfc3339.TryParse(input, out _, out var error)).IsFalse();
        await Assert.That(error).Contains(fragment);
    }

    [Test]
    [Arguments("2024-02-29T12:00:00Z", "2024-02-29T12:00:00Z")]
    [Arguments("2025-09-20T05:00:00+02:00", "2025-09-20T03:00:00Z")]
    [Arguments("2025-09-20T03:00:00+14:00", "2025-09-19T13:00:00Z")]
    [Arguments("2025-09-20T03:00:00-14:00", "2025-09-20T17:00:00Z")]
    [Arguments("0000-12-31T23:00:00-01:00", "0001-01-01T00:00:00Z")]
    [Arguments("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z")]
    [Arguments("9999-12-31T23:59:59.99999999Z", "9999-12-31T23:59:59.9999999Z")]
    [Arguments("2000-02-29T00:00:00.0000001z", "2000-02-29T00:00:00.0000001Z")]
    public async Task Accepts_edges(string input, string expected)
    {
        await Assert.That(Rfc3339.TryParse(input, out var utc, out var error)).IsTrue();
        await Assert.That(error).IsEqualTo("");
        await Assert.That(Rfc3339.Format(utc)).IsEqualTo(expected);
    }

    [Test]
    public async Task Format_normalises_to_utc_and_trims_the_fraction()
    {
        var t = new DateTimeOffset(2025, 9, 20, 5, 0, 0, TimeSpan.FromHours(2)).AddTicks(1_230_000);
        await Assert.That(Rfc3339.Format(t)).IsEqualTo("2025-09-20T03:00:00.123Z");
        await Assert.That(Rfc3339.Format(DateTimeOffset.MinValue)).IsEqualTo("0001-01-01T00:00:00Z");
        await Assert.That(Rfc3339.Format(DateTimeOffset.MaxValue)).IsEqualTo("9999-12-31T23:59:59.9999999Z");
    }

    [Test]
    public async Task Format_round_trips_random_instants()
    {
        var rng = new Random(20250920);
        var failures = new List<string>();
        for (var i = 0; i < 20_000; i++)
        {
            var ticks = rng.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks + 1);
            if (i % 2 == 0)
                ticks -= ticks % TimeSpan.TicksPerSecond; // also exercise the no-fraction form
            var t = new DateTimeOffset(ticks, TimeSpan.Zero);
            var text = Rfc3339.Format(t);
            if (!Rfc3339.TryParse(text, out var back, out var error) || back != t || back.Offset != TimeSpan.Zero)
                failures.Add($"{ticks}: {text} -> {back:o} {error}");
            if (text != t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture))
                failures.Add($"{ticks}: {text} differs from the BCL's rendering");
        }
        await Assert.That(failures).IsEmpty();
    }

    [Test]
    public async Task Garbage_and_huge_input_never_throw()
    {
        var huge = "2025-09-20T03:00:00." + new string('1', 1_000_000) + "Z";
        await Assert.That(Rfc3339.TryParse(huge, out var utc, out _)).IsTrue();
        await Assert.That(Rfc3339.Format(utc)).IsEqualTo("2025-09-20T03:00:00.1111111Z");
        await Assert.That(Rfc3339.TryParse(new string('x', 1_000_000), out _, out var error)).IsFalse();
        await Assert.That(error.Length).IsLessThan(300);

        // Mutations of valid strings hit every position with digits, separators and junk.
        var rng = new Random(3339);
        const string alphabet = "0123456789-:T tZz+.,\u09EA\0\"\\\uD800";
        string[] seeds = ["2025-09-20T03:00:00Z", "1990-12-31T15:59:59.123-08:00", "0000-01-01T00:00:00+00:01"];
        var failures = new List<string>();
        for (var i = 0; i < 30_000; i++)
        {
            var chars = seeds[i % seeds.Length].ToCharArray().ToList();
            for (var k = rng.Next(1, 4); k > 0; k--)
            {
                var at = rng.Next(chars.Count + 1);
                var c = alphabet[rng.Next(alphabet.Length)];
                switch (rng.Next(3))
                {
                    case 0 when at < chars.Count: chars[at] = c; break;
                    case 1 when at < chars.Count: chars.RemoveAt(at); break;
                    default: chars.Insert(at, c); break;
                }
            }
            var input = new string([.. chars]);
            var ok = Rfc3339.TryParse(input, out var t, out var err);
            if (ok != (err.Length == 0) || (ok && t.Offset != TimeSpan.Zero))
                failures.Add(input);
        }
        await Assert.That(failures).IsEmpty();
    }
}
