using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Ksana.Wire;

namespace Ksana.Records;

/// <summary>
/// Reading records straight from UTF-8 with a <see cref="Utf8JsonReader"/>: no document, no string
/// for ids, times or durations. Anything unexpected is a <see cref="FormatException"/> naming the
/// member, so damage is never half-read.
/// </summary>
public static class JsonRead
{
    public static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new FormatException("truncated record");

    public static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (Next(ref reader) != type) throw new FormatException($"expected {type}, found {reader.TokenType}");
    }

    public static FormatException Unknown(ref Utf8JsonReader reader) => new($"unknown member \"{reader.GetString()}\"");

    public static string String(ref Utf8JsonReader reader, string field)
    {
        Next(ref reader);
        return reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new FormatException($"{field}: not a string");
    }

    /// <summary>Reads a string value and tells whether it is <paramref name="expected"/>, without making a string of it.</summary>
    public static bool StringIs(ref Utf8JsonReader reader, string field, ReadOnlySpan<byte> expected)
    {
        Next(ref reader);
        return reader.TokenType == JsonTokenType.String ? reader.ValueTextEquals(expected) : throw new FormatException($"{field}: not a string");
    }

    public static Guid Guid(ref Utf8JsonReader reader, string field, char format = 'D')
    {
        Next(ref reader);
        return reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped
            && Utf8Parser.TryParse(reader.ValueSpan, out Guid g, out var n, format) && n == reader.ValueSpan.Length
            ? g
            : throw new FormatException($"{field}: not a UUID");
    }

    public static DateTimeOffset Time(ref Utf8JsonReader reader, string field)
    {
        Next(ref reader);
        return TimeValue(ref reader, field);
    }

    /// <summary><see cref="Time"/> for the value the reader is already on.</summary>
    public static DateTimeOffset TimeValue(ref Utf8JsonReader reader, string field)
    {
        Span<char> text = stackalloc char[64];
        var length = Ascii(ref reader, text, field);
        return Rfc3339.TryParse(text[..length], out var t, out var error) ? t : throw new FormatException($"{field}: {error}");
    }

    public static Duration Duration(ref Utf8JsonReader reader, string field)
    {
        Next(ref reader);
        Span<char> text = stackalloc char[64];
        var length = Ascii(ref reader, text, field);
        return Wire.Duration.TryParse(text[..length], out var d, out var error) ? d : throw new FormatException($"{field}: {error}");
    }

    static int Ascii(ref Utf8JsonReader reader, scoped Span<char> text, string field)
    {
        if (reader.TokenType != JsonTokenType.String) throw new FormatException($"{field}: not a string");
        if (reader.ValueIsEscaped)
        {
            // The writer escapes non-ASCII (a "µs" duration, say): rare, so take the slow road.
            var unescaped = reader.GetString()!;
            if (unescaped.Length > text.Length) throw new FormatException($"{field}: too long");
            unescaped.CopyTo(text);
            return unescaped.Length;
        }
        var value = reader.ValueSpan;
        if (value.Length > text.Length) throw new FormatException($"{field}: too long");
        // Times and durations are ASCII as written (widened without decoding); anything else is decoded.
        return System.Text.Ascii.ToUtf16(value, text, out var written) == System.Buffers.OperationStatus.Done
            ? written
            : Encoding.UTF8.GetChars(value, text);
    }
}
