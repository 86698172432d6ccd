using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Ksana.Wire;

namespace Ksana.Records;

/// <summary>
/// The matching that replay's short roads (<see cref="PlainJobLine"/>, <see cref="PlainRunLine"/>)
/// share: a position in a journal line, moved on by each match of what the writer writes there. A
/// failed match leaves it where it was, and whatever is not written as the writer writes it fails
/// to match, so the line goes to the JSON reader.
/// </summary>
internal ref struct LineCursor(ReadOnlySpan<byte> line)
{
    readonly ReadOnlySpan<byte> _line = line;
    int _at;

    public readonly bool AtEnd => _at == _line.Length;

    public bool Literal(ReadOnlySpan<byte> expected)
    {
        if (!_line[_at..].StartsWith(expected)) return false;
        _at += expected.Length;
        return true;
    }

    /// <summary>
    /// A string's bytes up to its closing quote (the opening one already matched), which is passed
    /// over. Declined when it holds an escape or a control character (the JSON reader's business)
    /// or is not UTF-8.
    /// </summary>
    public bool Raw(out ReadOnlySpan<byte> text)
    {
        text = default;
        var rest = _line[_at..];
        var end = rest.IndexOfAny((byte)'"', (byte)'\\');
        if (end < 0 || rest[end] != (byte)'"') return false;
        text = rest[..end];
        if (!Plain(text)) return false;
        _at += end + 1;
        return true;
    }

    /// <summary>
    /// A string value (the opening quote already matched, the closing one passed over). One
    /// without escapes is taken as it stands; one with escapes is unescaped by the JSON reader
    /// itself, over the string alone, so that it reads exactly as it would in the whole line.
    /// </summary>
    public bool Text(out string value)
    {
        value = "";
        var rest = _line[_at..];
        var end = rest.IndexOfAny((byte)'"', (byte)'\\');
        if (end < 0) return false;
        if (rest[end] == (byte)'"')
        {
            var text = rest[..end];
            if (!Plain(text)) return false;
            value = Encoding.UTF8.GetString(text);
            _at += end + 1;
            return true;
        }
        // Escaped: the closing quote is the first one not after a backslash.
        while (rest[end] == (byte)'\\')
        {
            end += 2;
            var next = end < rest.Length ? rest[end..].IndexOfAny((byte)'"', (byte)'\\') : -1;
            if (next < 0) return false;
            end += next;
        }
        try
        {
            var reader = new Utf8JsonReader(_line[(_at - 1)..(_at + end + 1)]);
            if (!reader.Read() || reader.TokenType != JsonTokenType.String) return false;
            value = reader.GetString()!;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // A bad escape, or one that is not UTF-16: the whole line's reader refuses it as well.
            return false;
        }
        _at += end + 1;
        return true;
    }

    /// <summary>A UUID string in <paramref name="format"/> (the opening quote already matched), not the empty one.</summary>
    public bool Guid(char format, out Guid value)
    {
        value = default;
        return Raw(out var text) && Utf8Parser.TryParse(text, out value, out var used, format) && used == text.Length && value != System.Guid.Empty;
    }

    /// <summary>A time string (the opening quote already matched), as <see cref="JsonRead.Time"/> reads one.</summary>
    public bool Time(out DateTimeOffset time, out ReadOnlySpan<byte> text)
    {
        time = default;
        return Raw(out text) && TimeOf(text, out time);
    }

    /// <summary>A number as the writer writes one: digits, no sign, no leading zero, at most <paramref name="digitsMax"/>.</summary>
    public bool Number(int digitsMax, out long value)
    {
        value = 0;
        var rest = _line[_at..];
        var n = rest.IndexOfAnyExceptInRange((byte)'0', (byte)'9');
        if (n < 0) n = rest.Length;
        // A fraction or exponent after the digits fails the literal that must follow them.
        if (n == 0 || n > digitsMax || (n > 1 && rest[0] == (byte)'0')) return false;
        foreach (var digit in rest[..n]) value = value * 10 + (digit - '0');
        _at += n;
        return true;
    }

    public bool Int(out int value)
    {
        value = 0;
        if (!Number(10, out var number) || number > int.MaxValue) return false;
        value = (int)number;
        return true;
    }

    /// <summary>The end every line has: its checksum (verified before, by <see cref="Storage.LineEncoder.Verify"/>; here only its shape is) and the closing brace.</summary>
    public bool CrcAndEnd() =>
        Literal(",\"crc\":\""u8) && Raw(out var crc) && crc.Length == 8 && Literal("}"u8) && AtEnd;

    /// <summary>An object of strings only (a schedule): its bytes, braces included; declined when anything in it is escaped or nested.</summary>
    public bool FlatObject(out ReadOnlySpan<byte> text)
    {
        text = default;
        var rest = _line[_at..];
        if (rest.IsEmpty || rest[0] != (byte)'{') return false;
        // The first of these after the opening brace must be the closing one. Should that one
        // stand inside a string, the bytes up to it are no whole object, and so no schedule the
        // memo holds: the memo keeps only objects the JSON reader read whole.
        var close = rest[1..].IndexOfAny(ObjectBytes);
        if (close < 0 || rest[1 + close] != (byte)'}') return false;
        text = rest[..(close + 2)];
        _at += close + 2;
        return true;
    }

    static readonly System.Buffers.SearchValues<byte> ObjectBytes = System.Buffers.SearchValues.Create("}\\{["u8);

    public static bool DurationOf(ReadOnlySpan<byte> text, out Duration duration)
    {
        duration = default;
        Span<char> chars = stackalloc char[TextMax];
        return Widen(text, chars, out var n) && Duration.TryParse(chars[..n], out duration, out _);
    }

    public static bool TimeOf(ReadOnlySpan<byte> text, out DateTimeOffset time)
    {
        time = default;
        Span<char> chars = stackalloc char[TextMax];
        return Widen(text, chars, out var n) && Rfc3339.TryParse(chars[..n], out time, out _);
    }

    /// <summary>Longest time or duration read here, as <see cref="JsonRead"/> reads them.</summary>
    const int TextMax = 64;

    /// <summary>An ASCII text as chars, without decoding; false when it is longer than <paramref name="chars"/> or not ASCII.</summary>
    static bool Widen(ReadOnlySpan<byte> text, Span<char> chars, out int length)
    {
        length = 0;
        return text.Length <= chars.Length && Ascii.ToUtf16(text, chars, out length) == System.Buffers.OperationStatus.Done;
    }

    /// <summary>A string's bytes that stand for themselves in JSON: no control character, and UTF-8.</summary>
    static bool Plain(ReadOnlySpan<byte> text) =>
        text.IndexOfAnyInRange((byte)0, (byte)0x1F) < 0 && System.Text.Unicode.Utf8.IsValid(text);
}
