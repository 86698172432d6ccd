using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ksana.Http.Trust;

/// <summary>
/// Strict CIDR parsing for OUTBOUND_DENY and OUTBOUND_ALLOW. <see cref="IPAddress.TryParse(string, out IPAddress)"/>
/// alone would accept "10" as 0.0.0.10 and quietly mask host bits, so a typo would guard the wrong
/// range without a word; here each of those is an error that says what was meant.
/// </summary>
public static class Cidr
{
    /// <summary>
    /// <c>10.0.0.0/8</c>, <c>fc00::/7</c>, or a bare address (a range of one). An IPv4-mapped IPv6
    /// range is turned into the IPv4 range, as addresses are before they are checked.
    /// Returns null and sets <paramref name="error"/> (which does not repeat the text) when malformed.
    /// </summary>
    public static IPNetwork? Parse(string text, out string error)
    {
        error = "";
        var slash = text.IndexOf('/');
        var addressText = slash < 0 ? text : text[..slash];
        var isV4 = addressText.Length > 0 && addressText.All(c => char.IsAsciiDigit(c) || c == '.');
        if (isV4 && addressText.Count(c => c == '.') != 3 || !isV4 && !addressText.Contains(':') || addressText.Contains('%')
            || !IPAddress.TryParse(addressText, out var address))
        {
            error = "is not an IPv4 or IPv6 address";
            return null;
        }
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            error = $"has a prefix length that is not a number from 0 to {bits}";
            return null;
        }
        if (address.IsIPv4MappedToIPv6 && prefix >= 96)
        {
            address = address.MapToIPv4();
            prefix -= 96;
            bits = 32;
        }
        var bytes = address.GetAddressBytes();
        for (var bit = prefix; bit < bits; bit++)
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        var network = new IPAddress(bytes);
        if (!network.Equals(address))
        {
            error = $"has bits set after the /{prefix} prefix (did you mean {network}/{prefix}?)";
            return null;
        }
        return new IPNetwork(network, prefix);
    }
}
