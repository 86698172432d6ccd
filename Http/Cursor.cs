using System.Buffers.Binary;

namespace Ksana.Http;

/// <summary>
/// A page cursor: base64url of the last item's sort time (ticks) and id. Stable under inserts and
/// deletes, and opaque to clients.
/// </summary>
public static class Cursor
{
    public const int LimitDefault = 100;
    public const int LimitMax = 1000;

    /// <summary>The <c>?limit=</c> of a list (1–1000, default 100); a bad one is an error on <c>limit</c>.</summary>
    public static int Limit(string? limit, Dictionary<string, string[]> errors)
    {
        if (limit is null) return LimitDefault;
        if (int.TryParse(limit, System.Globalization.NumberStyles.None, null, out var size) && size is >= 1 and <= LimitMax) return size;
        errors["limit"] = [$"must be a whole number from 1 to {LimitMax}"];
        return LimitDefault;
    }

    /// <summary>The <c>?cursor=</c> of a list; a bad one is an error on <c>cursor</c>.</summary>
    public static (long Ticks, Guid Id)? After(string? cursor, Dictionary<string, string[]> errors)
    {
        if (cursor is null) return null;
        var after = Decode(cursor);
        if (after is null) errors["cursor"] = ["is not a cursor this server gave out (use next_cursor from the previous page)"];
        return after;
    }

    public static string Encode(long ticks, Guid id)
    {
        Span<byte> raw = stackalloc byte[24];
        BinaryPrimitives.WriteInt64BigEndian(raw, ticks);
        id.TryWriteBytes(raw[8..]);
        return Convert.ToBase64String(raw).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static (long Ticks, Guid Id)? Decode(string cursor)
    {
        if (cursor.Length != 32) return null;
        Span<byte> raw = stackalloc byte[24];
        var text = cursor.Replace('-', '+').Replace('_', '/');
        if (!Convert.TryFromBase64String(text, raw, out var n) || n != 24) return null;
        return (BinaryPrimitives.ReadInt64BigEndian(raw), new Guid(raw[8..]));
    }
}
