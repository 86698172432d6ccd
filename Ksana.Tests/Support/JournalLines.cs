using System.Buffers;
using System.IO.Hashing;
using System.Text;
using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Tests.Support;

/// <summary>Journal lines as the writer writes them, and changed by hand, for the tests of the line readers.</summary>
public static class JournalLines
{
    /// <summary>The line <see cref="LineEncoder"/> writes for <paramref name="change"/>, without its newline.</summary>
    public static byte[] Of(Change change, long seq = 7)
    {
        var buffer = new ArrayBufferWriter<byte>();
        new LineEncoder().Write(buffer, seq, change);
        return buffer.WrittenSpan[..^1].ToArray();
    }

    /// <summary>The line with its checksum made anew, as if it had been written so.</summary>
    public static byte[] Resealed(byte[] line)
    {
        var body = line.AsSpan(0, line.Length - LineEncoder.CrcSuffixLength);
        var crc = Crc32.HashToUInt32(body).ToString("x8");
        return [.. body, .. Encoding.ASCII.GetBytes($",\"crc\":\"{crc}\"}}")];
    }
}
