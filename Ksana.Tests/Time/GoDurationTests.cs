using System.Text;
using System.Text.Json;
using Ksana.Scheduling;

namespace Ksana.Tests.Time;

/// One row of go_duration_cases.json (Go's own parse/format tables, checked against Go 1.19.8).
public sealed record DurationCase(int Index, string Input, bool Ok, long Nanoseconds, string? GoString)
{
    // TUnit names each case from its arguments; the index keeps the two identical Go rows apart.
    public override string ToString() => $"#{Index} \"{Input}\"";
}

public sealed class GoDurationTests
{
    public static IEnumerable<Func<DurationCase>> Cases() => Load().Select(c => (Func<DurationCase>)(() => c));

    public static IEnumerable<Func<DurationCase>> OkCases() =>
        Load().Where(c => c.Ok).Select(c => (Func<DurationCase>)(() => c));

    private static List<DurationCase> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "vectors", "go_duration_cases.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new List<DurationCase>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var input = e.GetProperty("input").GetString()!;
            // Three Go error cases are invalid UTF-8; decoding the exact bytes with replacement
            // gives what an HTTP body would carry into .NET.
            if (e.TryGetProperty("input_utf8_hex", out var hex))
                input = Encoding.UTF8.GetString(Convert.FromHexString(hex.GetString()!));
            var ok = e.GetProperty("ok").GetBoolean();
            cases.Add(new DurationCase(
                cases.Count,
                input,
                ok,
                ok ? e.GetProperty("nanoseconds").GetInt64() : 0,
                ok ? e.GetProperty("go_string").GetString() : null));
        }
        return cases;
    }

    [Test]
    public async Task Vectors_cover_go_tables()
    {
        var cases = Load();
        await Assert.That(cases.Count).IsEqualTo(84);
        await Assert.That(cases.Count(c => !c.Ok)).IsEqualTo(21);
    }

    [Test]
    [MethodDataSource(nameof(Cases))]
    public async Task Parse_matches_go(DurationCase c)
    {
        var ok = GoDuration.TryParse(c.Input, out var ns, out var error);
        await Assert.That(ok).IsEqualTo(c.Ok);
        if (c.Ok)
        {
            await Assert.That(ns).IsEqualTo(c.Nanoseconds);
            await Assert.That(error).IsEqualTo("");
        }
        else
        {
            await Assert.That(error).IsNotEmpty();
            await Assert.That(error).DoesNotStartWith("time:");
        }
    }

    [Test]
    [MethodDataSource(nameof(OkCases))]
    public async Task Format_matches_go(DurationCase c)
    {
        await Assert.That(GoDuration.Format(c.Nanoseconds)).IsEqualTo(c.GoString);
    }

    [Test]
    [MethodDataSource(nameof(OkCases))]
    public async Task Format_round_trips(DurationCase c)
    {
        var ok = GoDuration.TryParse(GoDuration.Format(c.Nanoseconds), out var ns, out _);
        await Assert.That(ok).IsTrue();
        await Assert.That(ns).IsEqualTo(c.Nanoseconds);
    }

    [Test]
    [Arguments(0L, "0s")]
    [Arguments(1L, "1ns")]
    [Arguments(999L, "999ns")]
    [Arguments(1000L, "1µs")]
    [Arguments(1_500L, "1.5µs")]
    [Arguments(1_000_000L, "1ms")]
    [Arguments(90_000_000_000L, "1m30s")]
    [Arguments(3_600_000_000_000L, "1h0m0s")]
    [Arguments(-9_900_000_000_000L, "-2h45m0s")]
    [Arguments(long.MaxValue, "2562047h47m16.854775807s")]
    [Arguments(long.MinValue, "-2562047h47m16.854775808s")]
    public async Task Format_edge_values(long ns, string expected)
    {
        await Assert.That(GoDuration.Format(ns)).IsEqualTo(expected);
        // The record codecs write the same text without a string.
        await Assert.That(Written(ns)).IsEqualTo(Written(expected));
    }

    static string Written(long ns) => WrittenBy(w => GoDuration.Write(w, "d"u8, ns));

    static string Written(string text) => WrittenBy(w => w.WriteString("d"u8, text));

    static string WrittenBy(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    [Test]
    [Arguments("abc", "invalid duration \"abc\"")]
    [Arguments("", "invalid duration \"\"")]
    [Arguments("-", "invalid duration \"-\"")]
    [Arguments("1", "missing unit in duration \"1\"")]
    [Arguments("1x", "unknown unit \"x\" in duration \"1x\"")]
    [Arguments("1d2h", "unknown unit \"d\" in duration \"1d2h\"")]
    [Arguments("3000000h", "invalid duration \"3000000h\"")]
    [Arguments("1\"s", "unknown unit \"\\\"s\" in duration \"1\\\"s\"")]
    public async Task Error_messages_quote_the_input(string input, string expected)
    {
        await Assert.That(GoDuration.TryParse(input, out _, out var error)).IsFalse();
        await Assert.That(error).IsEqualTo(expected);
    }

    [Test]
    [Arguments("3000000h", true)]
    [Arguments("-3000000h", true)]
    [Arguments("9223372036854775808ns", true)]
    [Arguments("99999999999999999999s", true)]
    [Arguments("2562047h47m16.854775808s", true)]
    [Arguments("2562047h47m16s1h", true)]
    [Arguments("abc", false)]
    [Arguments("1x", false)]
    [Arguments("1", false)]
    [Arguments(".s", false)]
    public async Task A_duration_too_large_to_hold_is_told_from_one_that_is_malformed(string input, bool tooLarge)
    {
        await Assert.That(GoDuration.TryParse(input, out _, out var error, out var large)).IsFalse();
        await Assert.That(large).IsEqualTo(tooLarge);
        // Go's words either way.
        await Assert.That(error).Contains("duration");
    }

    [Test]
    public async Task The_longest_durations_still_parse_and_are_not_too_large()
    {
        await Assert.That(GoDuration.TryParse("2562047h47m16.854775807s", out var max, out _, out var large)).IsTrue();
        await Assert.That(max).IsEqualTo(long.MaxValue);
        await Assert.That(large).IsFalse();
        await Assert.That(GoDuration.TryParse("-2562047h47m16.854775808s", out var min, out _, out _)).IsTrue();
        await Assert.That(min).IsEqualTo(long.MinValue);
    }

    [Test]
    public async Task Huge_garbage_is_an_error_with_a_bounded_message()
    {
        var input = new string('9', 1_000_000) + "s";
        await Assert.That(GoDuration.TryParse(input, out _, out var error)).IsFalse();
        await Assert.That(error.Length).IsLessThan(200);

        // A long fraction is fine: Go keeps consuming digits and ignores those beyond precision.
        // Go's float64 step turns 0.999999999999999999s into exactly 1e9 ns, so this is 2s, not
        // 1.999999999s (same in Go: float64(999999999999999999) == 1e18).
        await Assert.That(GoDuration.TryParse("1." + new string('9', 100_000) + "s", out var ns, out _)).IsTrue();
        await Assert.That(ns).IsEqualTo(2_000_000_000L);
        await Assert.That(GoDuration.TryParse("1." + new string('9', 9) + new string('0', 100_000) + "s", out ns, out _)).IsTrue();
        await Assert.That(ns).IsEqualTo(1_999_999_999L);
    }

    [Test]
    public async Task Random_values_round_trip_and_random_text_never_throws()
    {
        var rng = new Random(20250920);
        var failures = new List<string>();
        for (var i = 0; i < 20_000; i++)
        {
            var ns = rng.NextInt64(long.MinValue, long.MaxValue) >> rng.Next(0, 63);
            if (!GoDuration.TryParse(GoDuration.Format(ns), out var back, out _) || back != ns)
                failures.Add($"{ns} -> {GoDuration.Format(ns)} -> {back}");
        }
        const string alphabet = "0123456789.+-nsuµμmh x";
        for (var i = 0; i < 20_000; i++)
        {
            var chars = new char[rng.Next(0, 24)];
            for (var j = 0; j < chars.Length; j++)
                chars[j] = alphabet[rng.Next(alphabet.Length)];
            var ok = GoDuration.TryParse(chars, out var ns, out var error);
            if (ok != (error.Length == 0))
                failures.Add($"\"{new string(chars)}\": ok={ok} error=\"{error}\"");
            else if (ok && !(GoDuration.TryParse(GoDuration.Format(ns), out var back, out _) && back == ns))
                failures.Add($"\"{new string(chars)}\" -> {ns} does not round-trip");
        }
        await Assert.That(failures).IsEmpty();
    }

    [Test]
    [Arguments(0L, 0L)]
    [Arguments(199L, 1L)]
    [Arguments(-199L, -1L)]
    [Arguments(long.MaxValue, long.MaxValue / 100)]
    [Arguments(long.MinValue, long.MinValue / 100)]
    public async Task ToTimeSpan_truncates_toward_zero(long ns, long ticks)
    {
        await Assert.That(GoDuration.ToTimeSpan(ns).Ticks).IsEqualTo(ticks);
    }

    [Test]
    public async Task FromTimeSpan_saturates()
    {
        await Assert.That(GoDuration.FromTimeSpan(TimeSpan.FromSeconds(90))).IsEqualTo(90_000_000_000L);
        await Assert.That(GoDuration.FromTimeSpan(TimeSpan.FromTicks(-3))).IsEqualTo(-300L);
        await Assert.That(GoDuration.FromTimeSpan(TimeSpan.MaxValue)).IsEqualTo(long.MaxValue);
        await Assert.That(GoDuration.FromTimeSpan(TimeSpan.MinValue)).IsEqualTo(long.MinValue);
        await Assert.That(GoDuration.FromTimeSpan(GoDuration.ToTimeSpan(long.MaxValue))).IsEqualTo(long.MaxValue / 100 * 100);
    }
}
