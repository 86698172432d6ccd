using System.Globalization;
using System.Runtime.InteropServices;

namespace Ksana.Scheduling;

/// <summary>
/// The <c>webhook-signature</c> value (SPEC §8) for a delivery id, the Unix seconds it is sent at, and
/// exactly the body bytes sent; null when signing is off. Hosting hands in the signer of the current
/// SIGNING_KEYS_FILE, so the domain signs without knowing where the secrets live.
/// </summary>
public delegate string? SignDelivery(string id, long timestamp, ReadOnlySpan<byte> body);

/// <summary>The Standard Webhooks headers, added to what an attempt (or an event) sends when signing is on.</summary>
public static class WebhookHeaders
{
    public const string Id = "webhook-id";
    public const string Timestamp = "webhook-timestamp";
    public const string Signature = "webhook-signature";

    /// <summary>True for the names Ksana sets itself when signing is on; a job's own value for them is dropped then.</summary>
    public static bool IsOwn(string name) =>
        name.Equals(Id, StringComparison.OrdinalIgnoreCase)
        || name.Equals(Timestamp, StringComparison.OrdinalIgnoreCase)
        || name.Equals(Signature, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Adds the three headers for <paramref name="id"/> (the run id, or the event id) to
    /// <paramref name="headers"/> and returns true, or returns false and adds nothing when signing is off.
    /// </summary>
    public static bool Add(List<KeyValuePair<string, string>> headers, SignDelivery? sign, string id, long timestamp, byte[]? body)
    {
        if (sign?.Invoke(id, timestamp, body) is not { } signature) return false;
        var at = headers.Count;
        CollectionsMarshal.SetCount(headers, at + Count);
        Write(CollectionsMarshal.AsSpan(headers)[at..], id, timestamp, signature);
        return true;
    }

    /// <summary>How many headers <see cref="Write"/> writes.</summary>
    public const int Count = 3;

    /// <summary>Writes the three headers for <paramref name="id"/> and its <paramref name="signature"/> at the start of <paramref name="into"/>; returns how many.</summary>
    public static int Write(Span<KeyValuePair<string, string>> into, string id, long timestamp, string signature)
    {
        into[0] = new(Id, id);
        into[1] = new(Timestamp, timestamp.ToString(CultureInfo.InvariantCulture));
        into[2] = new(Signature, signature);
        return Count;
    }
}
