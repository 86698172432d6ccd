using System.Buffers;
using System.Globalization;
using System.Text;

namespace Ksana.Operations;

/// <summary>
/// Writes the Prometheus text exposition format 0.0.4 as UTF-8 straight into an
/// <see cref="IBufferWriter{T}"/> (the response's pipe, or a pooled buffer): <c># HELP</c> and
/// <c># TYPE</c> per family, then one sample per line, label values escaped, numbers in Go's
/// spelling (<c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>).
/// </summary>
public sealed class MetricsWriter(IBufferWriter<byte> output)
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    // The longest thing written in one go is a number (at most ~32 bytes) or a short ASCII name.
    const int NumberBytesMax = 64;

    public void Family(string name, string help, string type)
    {
        Ascii("# HELP ");
        Ascii(name);
        Byte((byte)' ');
        Escaped(help, quote: false);
        Ascii("\n# TYPE ");
        Ascii(name);
        Byte((byte)' ');
        Ascii(type);
        Byte((byte)'\n');
    }

    public void Sample(string name, string? suffix, string? labelName, string? labelValue, double value)
    {
        Start(name, suffix, labelName, labelValue);
        Number(value);
        Byte((byte)'\n');
    }

    public void Sample(string name, string? suffix, string? labelName, string? labelValue, long value)
    {
        Start(name, suffix, labelName, labelValue);
        var span = output.GetSpan(NumberBytesMax);
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        output.Advance(written);
        Byte((byte)'\n');
    }

    /// <summary>One cumulative bucket of a histogram: <c>name_bucket{le="0.005"} 17</c>.</summary>
    public void Bucket(string name, double upperBound, long cumulativeCount)
    {
        Ascii(name);
        Ascii("_bucket{le=\"");
        Number(upperBound);
        Ascii("\"} ");
        var span = output.GetSpan(NumberBytesMax);
        cumulativeCount.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        output.Advance(written);
        Byte((byte)'\n');
    }

    void Start(string name, string? suffix, string? labelName, string? labelValue)
    {
        Ascii(name);
        if (suffix is not null) Ascii(suffix);
        if (labelName is not null)
        {
            Byte((byte)'{');
            Ascii(labelName);
            Ascii("=\"");
            Escaped(labelValue ?? "", quote: true);
            Ascii("\"}");
        }
        Byte((byte)' ');
    }

    void Number(double value)
    {
        if (double.IsPositiveInfinity(value)) { Ascii("+Inf"); return; }
        if (double.IsNegativeInfinity(value)) { Ascii("-Inf"); return; }
        if (double.IsNaN(value)) { Ascii("NaN"); return; }
        var span = output.GetSpan(NumberBytesMax);
        // The shortest text that reads back as the same double ("0.005", not "0.0050000000000000001").
        value.TryFormat(span, out var written, "R", CultureInfo.InvariantCulture);
        output.Advance(written);
    }

    /// <summary>
    /// Label values escape backslash, double quote and line feed; HELP text escapes backslash and
    /// line feed. Everything else goes through as UTF-8.
    /// </summary>
    void Escaped(string text, bool quote)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            string? escape = c switch
            {
                '\\' => "\\\\",
                '\n' => "\\n",
                '"' when quote => "\\\"",
                _ => null,
            };
            if (escape is null) continue;
            Text(text.AsSpan(start, i - start));
            Ascii(escape);
            start = i + 1;
        }
        Text(text.AsSpan(start));
    }

    void Text(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return;
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    void Ascii(string text) => Text(text);

    void Byte(byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }
}
