using System.Numerics;

namespace Ksana.Wire;

/// Strict RFC 3339 date-time: offsets accepted and normalised to UTC; no offset = error;
/// output always ends in Z.
/// Parsed by hand because the BCL parsers are lenient in ways an API must not be: they assume the
/// local zone when the offset is missing, accept other layouts and non-ASCII digits, and throw
/// (rather than report) on offsets beyond ±14:00.
public static class Rfc3339
{
    private const string Example = "e.g. 2025-09-20T03:00:00Z";

    // .NET's DateTimeOffset limit; larger offsets are valid RFC 3339 but refused by policy so that
    // what we accept is exactly what the rest of .NET can round-trip.
    private const int MaxOffsetMinutes = 14 * 60;

    // "yyyy-MM-ddTHH:mm:ss" is the fixed-width prefix every valid input starts with.
    private const int PrefixLength = 19;

    private const int TickDigits = 7; // 100 ns resolution

    public static bool TryParse(ReadOnlySpan<char> text, out DateTimeOffset utc, out string error)
    {
        utc = default;
        var s = text;
        if (s.Length < PrefixLength
            || !Digits(s, 0, 4, out var year) || s[4] != '-'
            || !Digits(s, 5, 2, out var month) || s[7] != '-'
            || !Digits(s, 8, 2, out var day) || (s[10] != 'T' && s[10] != 't')
            || !Digits(s, 11, 2, out var hour) || s[13] != ':'
            || !Digits(s, 14, 2, out var minute) || s[16] != ':'
            || !Digits(s, 17, 2, out var second))
        {
            return Fail(out error, Shape(text));
        }

        var pos = PrefixLength;
        long fractionTicks = 0;
        if (pos < s.Length && s[pos] == '.')
        {
            pos++;
            var start = pos;
            // Any number of digits is valid RFC 3339; digits past 100 ns are truncated.
            for (; pos < s.Length && IsDigit(s[pos]); pos++)
            {
                if (pos - start < TickDigits)
                    fractionTicks = fractionTicks * 10 + (s[pos] - '0');
            }
            if (pos == start)
                return Fail(out error, Shape(text));
            for (var k = pos - start; k < TickDigits; k++)
                fractionTicks *= 10;
        }

        if (pos == s.Length)
            return Fail(out error, $"missing time zone offset (Z or ±hh:mm) in date-time {GoDuration.Quote(text)}, {Example}");

        int offsetMinutes;
        if (s[pos] is 'Z' or 'z')
        {
            offsetMinutes = 0;
            pos++;
        }
        else if (s[pos] is '+' or '-')
        {
            if (s.Length - pos < 6
                || !Digits(s, pos + 1, 2, out var oh) || s[pos + 3] != ':'
                || !Digits(s, pos + 4, 2, out var om))
            {
                return Fail(out error, Shape(text));
            }
            if (oh > 23 || om > 59 || oh * 60 + om > MaxOffsetMinutes)
                return Fail(out error, $"time zone offset out of range (at most ±14:00) in date-time {GoDuration.Quote(text)}");
            offsetMinutes = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
            pos += 6;
        }
        else
        {
            return Fail(out error, Shape(text));
        }
        if (pos != s.Length)
            return Fail(out error, Shape(text));

        if (month is < 1 or > 12)
            return Fail(out error, $"month out of range in date-time {GoDuration.Quote(text)}");
        if (day < 1 || day > DaysInMonth(year, month))
            return Fail(out error, $"day out of range in date-time {GoDuration.Quote(text)}");
        if (hour > 23)
            return Fail(out error, $"hour out of range in date-time {GoDuration.Quote(text)}");
        if (minute > 59)
            return Fail(out error, $"minute out of range in date-time {GoDuration.Quote(text)}");
        if (second == 60)
            return Fail(out error, $"leap second (second 60) is not supported in date-time {GoDuration.Quote(text)}");
        if (second > 59)
            return Fail(out error, $"second out of range in date-time {GoDuration.Quote(text)}");

        // Computed in plain ticks rather than through DateTime so that year 0000 and offsets that
        // cross year 1 or 9999 are detected instead of throwing.
        var ticks = DaysFromYearOne(year, month, day) * TimeSpan.TicksPerDay
            + hour * TimeSpan.TicksPerHour
            + minute * TimeSpan.TicksPerMinute
            + second * TimeSpan.TicksPerSecond
            + fractionTicks
            - offsetMinutes * TimeSpan.TicksPerMinute;
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks)
            return Fail(out error, $"date-time {GoDuration.Quote(text)} is outside the supported range 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z");

        utc = new DateTimeOffset(ticks, TimeSpan.Zero);
        error = "";
        return true;
    }

    /// <summary>The longest text <see cref="Format(DateTimeOffset)"/> makes.</summary>
    public const int MaxLength = PrefixLength + 1 + TickDigits + 1;

    public static string Format(DateTimeOffset t)
    {
        Span<char> buf = stackalloc char[MaxLength];
        return new string(buf[..Format(t, buf)]);
    }

    /// <summary>Writes the member <paramref name="name"/> as <see cref="Format(DateTimeOffset)"/> would, without a string (every record codec).</summary>
    public static void Write(System.Text.Json.Utf8JsonWriter w, ReadOnlySpan<byte> name, DateTimeOffset t)
    {
        Span<char> buf = stackalloc char[MaxLength];
        w.WriteString(name, buf[..Format(t, buf)]);
    }

    /// <summary>Writes the text into <paramref name="buf"/> (at least <see cref="MaxLength"/> long) and answers its length.</summary>
    public static int Format(DateTimeOffset t, Span<char> buf) => Format<char>(t, buf);

    /// <summary>As <see cref="Format(DateTimeOffset, Span{char})"/>, as ASCII bytes (the journal's direct writer).</summary>
    public static int Format(DateTimeOffset t, Span<byte> buf) => Format<byte>(t, buf);

    static int Format<T>(DateTimeOffset t, Span<T> buf) where T : unmanaged, IBinaryInteger<T>
    {
        var ticks = t.UtcTicks;
        var d = new DateTime(ticks, DateTimeKind.Utc);
        var fraction = (int)(ticks % TimeSpan.TicksPerSecond);
        Write(buf, 0, 4, d.Year);
        buf[4] = T.CreateTruncating('-');
        Write(buf, 5, 2, d.Month);
        buf[7] = T.CreateTruncating('-');
        Write(buf, 8, 2, d.Day);
        buf[10] = T.CreateTruncating('T');
        Write(buf, 11, 2, d.Hour);
        buf[13] = T.CreateTruncating(':');
        Write(buf, 14, 2, d.Minute);
        buf[16] = T.CreateTruncating(':');
        Write(buf, 17, 2, d.Second);
        var len = PrefixLength;
        if (fraction != 0)
        {
            var digits = TickDigits;
            while (fraction % 10 == 0)
            {
                fraction /= 10;
                digits--;
            }
            buf[len++] = T.CreateTruncating('.');
            Write(buf, len, digits, fraction);
            len += digits;
        }
        buf[len++] = T.CreateTruncating('Z');
        return len;
    }

    /// <summary>
    /// The instant as the wall clock of <paramref name="zone"/> shows it, with that zone's offset
    /// (<c>2026-03-29T03:00:00+02:00</c>; <c>+00:00</c> in UTC, never <c>Z</c>), to the same
    /// precision as <see cref="Format"/>.
    /// </summary>
    public static string FormatLocal(DateTimeOffset t, TimeZoneInfo zone)
    {
        var offset = zone.GetUtcOffset(t);
        var wall = Format(new DateTimeOffset(t.UtcTicks + offset.Ticks, TimeSpan.Zero));
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        var abs = offset.Duration();
        return $"{wall.AsSpan(0, wall.Length - 1)}{sign}{abs.Hours:D2}:{abs.Minutes:D2}";
    }

    private static bool Fail(out string error, string message)
    {
        error = message;
        return false;
    }

    private static string Shape(ReadOnlySpan<char> text) =>
        $"not an RFC 3339 date-time with offset, {Example}; got {GoDuration.Quote(text)}";

    // ASCII only: char.IsDigit would let other scripts' digits (e.g. Bengali) through.
    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    private static bool Digits(ReadOnlySpan<char> s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            if (!IsDigit(s[i]))
                return false;
            value = value * 10 + (s[i] - '0');
        }
        return true;
    }

    private static void Write<T>(Span<T> buf, int start, int count, int value) where T : unmanaged, IBinaryInteger<T>
    {
        for (var i = start + count - 1; i >= start; i--)
        {
            buf[i] = T.CreateTruncating('0' + value % 10);
            value /= 10;
        }
    }

    // Proleptic Gregorian; year 0 is a leap year (DateTime.IsLeapYear would throw on it).
    private static bool IsLeap(int y) => y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);

    private static int DaysInMonth(int y, int m) => m switch
    {
        2 => IsLeap(y) ? 29 : 28,
        4 or 6 or 9 or 11 => 30,
        _ => 31,
    };

    // Days from 0001-01-01 (day 0, like DateTime.Ticks); negative for year 0.
    private static long DaysFromYearOne(int y, int m, int d)
    {
        // Shift the year to start in March so the leap day is the last day of the shifted year.
        if (m <= 2) y--;
        var era = (y >= 0 ? y : y - 399) / 400;
        var yoe = y - era * 400;
        var doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        var doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        const long daysFromYearOneToUnixEpoch = 719_162;
        return era * 146_097L + doe - 719_468 + daysFromYearOneToUnixEpoch;
    }
}
