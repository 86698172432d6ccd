using System.Text;
using System.Text.Json;

namespace Ksana.Http;

/// <summary>
/// Finds a string in a request that is not valid Unicode: bad or overlong UTF-8, or an escape of a
/// lone surrogate such as <c>"\ud800"</c>. System.Text.Json parses those and only fails when the
/// string is read, which would surface as a 500 deep in a handler; checking the whole body first
/// turns it into a 400 that names the field.
/// </summary>
public static class Unicode
{
    /// <summary>The JSON path of the first string (member name or value) that is not valid Unicode, or null.</summary>
    public static string? FirstInvalid(ReadOnlySpan<byte> json) => AllValid(json) ? null : PathOfFirstInvalid(json);

    /// <summary>Whether every string is valid Unicode: one pass that keeps no path (the usual case, a valid body).</summary>
    static bool AllValid(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        while (reader.Read())
            if (reader.TokenType is JsonTokenType.PropertyName or JsonTokenType.String && !IsValid(ref reader))
                return false;
        return true;
    }

    static string? PathOfFirstInvalid(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        var path = new List<(bool IsArray, string Segment, int Index)>();
        string? member = null;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    member = Encoding.UTF8.GetString(reader.ValueSpan);
                    if (!IsValid(ref reader)) return Join(path, member);
                    member = reader.GetString();
                    continue;
                case JsonTokenType.String:
                    if (!IsValid(ref reader)) return Join(path, Here(path, member));
                    break;
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    path.Add((reader.TokenType == JsonTokenType.StartArray, Here(path, member) ?? "", -1));
                    member = null;
                    continue;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    path.RemoveAt(path.Count - 1);
                    break;
            }
            // A value ended: the next array element gets the next index.
            if (path.Count > 0 && path[^1].IsArray)
                path[^1] = path[^1] with { Index = path[^1].Index + 1 };
            member = null;
        }
        return null;
    }

    /// <summary>The segment of the value about to be read: its member name, or its index in an array.</summary>
    static string? Here(List<(bool IsArray, string Segment, int Index)> path, string? member) =>
        member ?? (path.Count > 0 && path[^1].IsArray ? $"[{path[^1].Index + 1}]" : null);

    static bool IsValid(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped) return System.Text.Unicode.Utf8.IsValid(reader.ValueSpan);
        try
        {
            reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    static string Join(List<(bool IsArray, string Segment, int Index)> path, string? last)
    {
        var text = new StringBuilder();
        foreach (var (_, segment, _) in path.Skip(1)) Append(text, segment);
        if (last is not null) Append(text, last);
        return text.Length == 0 ? "$" : text.ToString();
    }

    static void Append(StringBuilder text, string segment)
    {
        if (text.Length > 0 && !segment.StartsWith('[')) text.Append('.');
        text.Append(segment);
    }
}
