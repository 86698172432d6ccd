using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Ksana.Wire;

namespace Ksana.Records;

/// <summary>
/// What a record codec writes through, so that one codec serves two writers: a
/// <see cref="Utf8JsonWriter"/> (<see cref="JsonOut"/>: the API, and whatever the other cannot
/// take) and <see cref="JsonBytes"/> (the journal's run lines, written straight as bytes).
/// </summary>
public interface IJsonOut
{
    void StartObject();
    void EndObject();
    void StartArray(scoped ReadOnlySpan<byte> name);
    void EndArray();
    void Name(scoped ReadOnlySpan<byte> name);
    void String(scoped ReadOnlySpan<byte> name, scoped ReadOnlySpan<char> text);
    void Number(scoped ReadOnlySpan<byte> name, long value);
    void Null(scoped ReadOnlySpan<byte> name);
    /// <summary>A UUID in its 36-character form.</summary>
    void Guid(scoped ReadOnlySpan<byte> name, Guid id);
    /// <summary>A UUID as 32 hex characters (run ids).</summary>
    void HexGuid(scoped ReadOnlySpan<byte> name, Guid id);
    /// <summary>An instant as <see cref="Rfc3339.Format(DateTimeOffset)"/> writes it.</summary>
    void Time(scoped ReadOnlySpan<byte> name, DateTimeOffset t);
}

/// <summary>A <see cref="Utf8JsonWriter"/> as an <see cref="IJsonOut"/>.</summary>
public readonly struct JsonOut(Utf8JsonWriter w) : IJsonOut
{
    public void StartObject() => w.WriteStartObject();
    public void EndObject() => w.WriteEndObject();
    public void StartArray(scoped ReadOnlySpan<byte> name) => w.WriteStartArray(name);
    public void EndArray() => w.WriteEndArray();
    public void Name(scoped ReadOnlySpan<byte> name) => w.WritePropertyName(name);
    public void String(scoped ReadOnlySpan<byte> name, scoped ReadOnlySpan<char> text) => w.WriteString(name, text);
    public void Number(scoped ReadOnlySpan<byte> name, long value) => w.WriteNumber(name, value);
    public void Null(scoped ReadOnlySpan<byte> name) => w.WriteNull(name);
    public void Guid(scoped ReadOnlySpan<byte> name, Guid id) => w.WriteString(name, id);

    public void HexGuid(scoped ReadOnlySpan<byte> name, Guid id)
    {
        Span<char> text = stackalloc char[32];
        id.TryFormat(text, out _, "N");
        w.WriteString(name, text);
    }

    public void Time(scoped ReadOnlySpan<byte> name, DateTimeOffset t)
    {
        Span<char> text = stackalloc char[Rfc3339.MaxLength];
        w.WriteString(name, text[..Rfc3339.Format(t, text)]);
    }
}

/// <summary>
/// Compact JSON written straight into a span of bytes: exactly what a <see cref="Utf8JsonWriter"/>
/// (no indentation, default escaping) writes for the same calls, at about 60 % of its cost. It
/// takes only plain text, the printable ASCII that needs no escape; anything else, or a record
/// that does not fit, sets <see cref="Failed"/>, and the caller writes the record the other way.
/// The journal writes a run line per callback, and a compaction every kept run again, nearly
/// all of them plain.
/// </summary>
public ref struct JsonBytes(Span<byte> into) : IJsonOut
{
    /// <summary>What <see cref="Utf8JsonWriter"/> writes unescaped: printable ASCII but <c>" &amp; ' + &lt; &gt; \ `</c>.</summary>
    static readonly SearchValues<char> Plain =
        SearchValues.Create(" !#$%()*,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz{|}~");

    readonly Span<byte> _into = into;
    int _at;
    bool _opened = true; // just after a start, a name, or at the very beginning: no comma before what comes next

    /// <summary>Bytes written so far.</summary>
    public readonly int Length => _at;

    /// <summary>A text was not plain, or the span was too short: what was written is not the record.</summary>
    public bool Failed { readonly get; private set; }

    /// <summary>Whether <see cref="Utf8JsonWriter"/> writes <paramref name="text"/> as it is.</summary>
    public static bool IsPlain(ReadOnlySpan<char> text) => !text.ContainsAnyExcept(Plain);

    public void StartObject()
    {
        Separate();
        Byte((byte)'{');
        _opened = true;
    }

    public void EndObject()
    {
        Byte((byte)'}');
        _opened = false;
    }

    public void StartArray(scoped ReadOnlySpan<byte> name)
    {
        Name(name);
        Byte((byte)'[');
        _opened = true;
    }

    public void EndArray()
    {
        Byte((byte)']');
        _opened = false;
    }

    public void Name(scoped ReadOnlySpan<byte> name)
    {
        Separate();
        Byte((byte)'"');
        Bytes(name);
        Bytes("\":"u8);
        _opened = true;
    }

    public void String(scoped ReadOnlySpan<byte> name, scoped ReadOnlySpan<char> text)
    {
        if (!IsPlain(text))
        {
            Failed = true;
            return;
        }
        var into = OpenString(name, text.Length);
        if (Failed) return;
        System.Text.Ascii.FromUtf16(text, into, out var written);
        CloseString(written);
    }

    /// <summary>A value already known to be plain ASCII (a fixed name of an enum, say).</summary>
    public void String(scoped ReadOnlySpan<byte> name, scoped ReadOnlySpan<byte> ascii)
    {
        var into = OpenString(name, ascii.Length);
        if (Failed) return;
        ascii.CopyTo(into);
        CloseString(ascii.Length);
    }

    public void Number(scoped ReadOnlySpan<byte> name, long value)
    {
        Name(name);
        if (!value.TryFormat(_into[_at..], out var written, default, CultureInfo.InvariantCulture)) Failed = true;
        else _at += written;
        _opened = false;
    }

    public void Null(scoped ReadOnlySpan<byte> name)
    {
        Name(name);
        Bytes("null"u8);
        _opened = false;
    }

    public void Guid(scoped ReadOnlySpan<byte> name, Guid id) => Formatted(name, id, "D");

    public void HexGuid(scoped ReadOnlySpan<byte> name, Guid id) => Formatted(name, id, "N");

    void Formatted(scoped ReadOnlySpan<byte> name, Guid id, scoped ReadOnlySpan<char> format)
    {
        var into = OpenString(name, 36);
        if (Failed) return;
        id.TryFormat(into, out var written, format);
        CloseString(written);
    }

    public void Time(scoped ReadOnlySpan<byte> name, DateTimeOffset t)
    {
        var into = OpenString(name, Rfc3339.MaxLength);
        if (Failed) return;
        CloseString(Rfc3339.Format(t, into));
    }

    /// <summary>
    /// Writes the member's name and the string's opening quote, and answers where its at most
    /// <paramref name="max"/> bytes go (<see cref="CloseString"/> follows); sets <see cref="Failed"/> when they may not fit.
    /// </summary>
    Span<byte> OpenString(scoped ReadOnlySpan<byte> name, int max)
    {
        Name(name);
        if (!Room(max + 2))
        {
            Failed = true;
            return default;
        }
        _into[_at++] = (byte)'"';
        return _into[_at..];
    }

    /// <summary>Takes the <paramref name="written"/> bytes of the string <see cref="OpenString"/> opened, and closes it.</summary>
    void CloseString(int written)
    {
        _at += written;
        _into[_at++] = (byte)'"';
        _opened = false;
    }

    void Separate()
    {
        if (!_opened) Byte((byte)',');
    }

    readonly bool Room(int bytes) => _into.Length - _at >= bytes;

    void Byte(byte b)
    {
        if (!Room(1)) Failed = true;
        else _into[_at++] = b;
    }

    void Bytes(scoped ReadOnlySpan<byte> bytes)
    {
        if (!Room(bytes.Length)) Failed = true;
        else
        {
            bytes.CopyTo(_into[_at..]);
            _at += bytes.Length;
        }
    }
}
