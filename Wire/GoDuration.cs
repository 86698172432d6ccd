using System.Text;

namespace Ksana.Wire;

/// Go's time.ParseDuration / Duration.String(), bit-exact.
/// Jobs written for Go-based schedulers carry Go duration strings, so the same text must mean
/// the same nanosecond count here, down to Go's float64 rounding of fractional hours.
public static class GoDuration
{
    // Go does the arithmetic in uint64 with 1<<63 as the ceiling, so that "-9223372036854775808ns"
    // parses although its magnitude is one above long.MaxValue.
    private const ulong Limit = 1UL << 63;

    // Longest possible output is "-2562047h47m16.854775808s" (25 chars).
    private const int MaxFormatLength = 32;

    // Keeps error messages (which are echoed to API users) bounded for absurd inputs.
    private const int MaxQuotedChars = 100;

    public static bool TryParse(ReadOnlySpan<char> text, out long nanoseconds, out string error) =>
        TryParse(text, out nanoseconds, out error, out _);

    /// <summary>
    /// As Go parses it, with Go's error text; <paramref name="tooLarge"/> tells a well-formed
    /// duration beyond what 64 bits of nanoseconds hold (about 292 years either way) from one that
    /// is not a duration at all: Go says "invalid duration" of both, and an API can say which.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out long nanoseconds, out string error, out bool tooLarge)
    {
        nanoseconds = 0;
        tooLarge = false;
        var s = text;
        var neg = false;
        if (!s.IsEmpty && (s[0] == '-' || s[0] == '+'))
        {
            neg = s[0] == '-';
            s = s[1..];
        }

        // Go special-cases a bare zero: it is the only number allowed without a unit.
        if (s is "0")
        {
            error = "";
            return true;
        }
        if (s.IsEmpty)
            return Invalid(text, out error);

        ulong d = 0;
        while (!s.IsEmpty)
        {
            if (!(s[0] == '.' || IsDigit(s[0])))
                return Invalid(text, out error);

            var before = s.Length;
            if (!LeadingInt(ref s, out var v))
                return TooLarge(text, out error, out tooLarge);
            var pre = before != s.Length;

            ulong f = 0;
            double scale = 1;
            var post = false;
            if (!s.IsEmpty && s[0] == '.')
            {
                s = s[1..];
                before = s.Length;
                LeadingFraction(ref s, out f, out scale);
                post = before != s.Length;
            }
            if (!pre && !post)
                return Invalid(text, out error);

            var i = 0;
            while (i < s.Length && s[i] != '.' && !IsDigit(s[i]))
                i++;
            if (i == 0)
                return Fail(out error, "missing unit in duration " + Quote(text));
            var u = s[..i];
            s = s[i..];
            var unit = UnitNanoseconds(u);
            if (unit == 0)
                return Fail(out error, "unknown unit " + Quote(u) + " in duration " + Quote(text));

            if (v > Limit / unit)
                return TooLarge(text, out error, out tooLarge);
            v *= unit;
            if (f > 0)
            {
                // Same expression and evaluation order as Go: float64 keeps fractional hours
                // nanosecond-accurate, and the truncating conversion decides the last digit.
                v += (ulong)((double)f * ((double)unit / scale));
                if (v > Limit)
                    return TooLarge(text, out error, out tooLarge);
            }
            d += v; // both operands are <= 2^63, so this cannot wrap
            if (d > Limit)
                return TooLarge(text, out error, out tooLarge);
        }

        if (neg)
        {
            nanoseconds = unchecked(-(long)d);
        }
        else
        {
            if (d > long.MaxValue)
                return TooLarge(text, out error, out tooLarge);
            nanoseconds = (long)d;
        }
        error = "";
        return true;
    }

    public static string Format(long nanoseconds)
    {
        if (nanoseconds == 0) return "0s";
        Span<char> buf = stackalloc char[MaxFormatLength];
        return new string(buf[FormatRight(nanoseconds, buf)..]);
    }

    /// <summary>Writes the member <paramref name="name"/> as <see cref="Format(long)"/> would, without a string (the record codecs).</summary>
    public static void Write(System.Text.Json.Utf8JsonWriter w, ReadOnlySpan<byte> name, long nanoseconds)
    {
        Span<char> buf = stackalloc char[MaxFormatLength];
        w.WriteString(name, buf[FormatRight(nanoseconds, buf)..]);
    }

    /// <summary>Writes the text at the end of <paramref name="buf"/> (<see cref="MaxFormatLength"/> long) and answers where it starts.</summary>
    static int FormatRight(long nanoseconds, Span<char> buf)
    {
        var w = buf.Length;
        var neg = nanoseconds < 0;
        // Two's-complement negation in ulong also covers long.MinValue.
        var u = neg ? unchecked(0UL - (ulong)nanoseconds) : (ulong)nanoseconds;

        if (u < 1_000_000_000UL)
        {
            // Below one second Go switches to the largest sub-second unit, e.g. "1.2ms".
            if (u == 0)
            {
                buf[--w] = 's';
                buf[--w] = '0';
                return w;
            }
            int prec;
            buf[--w] = 's';
            if (u < 1_000UL) { prec = 0; buf[--w] = 'n'; }
            else if (u < 1_000_000UL) { prec = 3; buf[--w] = '\u00B5'; }
            else { prec = 6; buf[--w] = 'm'; }
            w = FormatFraction(buf[..w], ref u, prec);
            w = FormatInt(buf[..w], u);
        }
        else
        {
            buf[--w] = 's';
            w = FormatFraction(buf[..w], ref u, 9);
            w = FormatInt(buf[..w], u % 60);
            u /= 60;
            if (u > 0)
            {
                buf[--w] = 'm';
                w = FormatInt(buf[..w], u % 60);
                u /= 60;
                // Go stops at hours because days vary in length.
                if (u > 0)
                {
                    buf[--w] = 'h';
                    w = FormatInt(buf[..w], u);
                }
            }
        }
        if (neg)
            buf[--w] = '-';
        return w;
    }

    public static TimeSpan ToTimeSpan(long nanoseconds) => TimeSpan.FromTicks(nanoseconds / 100);

    public static long FromTimeSpan(TimeSpan t)
    {
        var ticks = t.Ticks;
        if (ticks > long.MaxValue / 100) return long.MaxValue;
        if (ticks < long.MinValue / 100) return long.MinValue;
        return ticks * 100;
    }

    /// Quotes input for an error message: escapes quotes, backslashes, control characters and
    /// lone surrogates so the message stays one readable line, and caps its length.
    internal static string Quote(ReadOnlySpan<char> s)
    {
        var sb = new StringBuilder(Math.Min(s.Length, MaxQuotedChars) + 8);
        sb.Append('"');
        var n = Math.Min(s.Length, MaxQuotedChars);
        for (var i = 0; i < n; i++)
        {
            var c = s[i];
            if (c is '"' or '\\')
                sb.Append('\\').Append(c);
            else if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                sb.Append(c).Append(s[++i]);
            else if (c < ' ' || c == '\u007F' || char.IsSurrogate(c))
                sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            else
                sb.Append(c);
        }
        if (s.Length > n)
            sb.Append('\u2026');
        sb.Append('"');
        return sb.ToString();
    }

    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    private static bool Fail(out string error, string message)
    {
        error = message;
        return false;
    }

    private static bool Invalid(ReadOnlySpan<char> text, out string error) =>
        Fail(out error, "invalid duration " + Quote(text));

    private static bool TooLarge(ReadOnlySpan<char> text, out string error, out bool tooLarge)
    {
        tooLarge = true;
        return Invalid(text, out error);
    }

    private static ulong UnitNanoseconds(ReadOnlySpan<char> u) => u switch
    {
        "ns" => 1UL,
        "us" or "\u00B5s" or "\u03BCs" => 1_000UL, // micro sign and Greek mu are both accepted by Go
        "ms" => 1_000_000UL,
        "s" => 1_000_000_000UL,
        "m" => 60_000_000_000UL,
        "h" => 3_600_000_000_000UL,
        _ => 0UL,
    };

    // Go's leadingInt: fails once the value would exceed 2^63.
    private static bool LeadingInt(ref ReadOnlySpan<char> s, out ulong x)
    {
        x = 0;
        var i = 0;
        for (; i < s.Length && IsDigit(s[i]); i++)
        {
            if (x > Limit / 10)
                return false;
            x = x * 10 + (ulong)(s[i] - '0');
            if (x > Limit)
                return false;
        }
        s = s[i..];
        return true;
    }

    // Go's leadingFraction: digits past 2^63 precision are consumed but ignored, which is what
    // truncates sub-nanosecond digits instead of failing.
    private static void LeadingFraction(ref ReadOnlySpan<char> s, out ulong x, out double scale)
    {
        x = 0;
        scale = 1;
        var overflow = false;
        var i = 0;
        for (; i < s.Length && IsDigit(s[i]); i++)
        {
            // The first test runs before multiplying (as in Go) because x*10 could wrap.
            overflow = overflow || x > (Limit - 1) / 10 || x * 10 + (ulong)(s[i] - '0') > Limit;
            if (overflow)
                continue;
            x = x * 10 + (ulong)(s[i] - '0');
            scale *= 10;
        }
        s = s[i..];
    }

    // Writes the last prec digits of v as ".ddd" with trailing zeros (and a bare point) omitted,
    // leaving v divided by 10^prec; returns the new start index.
    private static int FormatFraction(Span<char> buf, ref ulong v, int prec)
    {
        var w = buf.Length;
        var print = false;
        for (var i = 0; i < prec; i++)
        {
            var digit = v % 10;
            print = print || digit != 0;
            if (print)
                buf[--w] = (char)('0' + digit);
            v /= 10;
        }
        if (print)
            buf[--w] = '.';
        return w;
    }

    private static int FormatInt(Span<char> buf, ulong v)
    {
        var w = buf.Length;
        do
        {
            buf[--w] = (char)('0' + v % 10);
            v /= 10;
        } while (v > 0);
        return w;
    }
}
