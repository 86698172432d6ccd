using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ksana.Storage;

/// <summary>
/// The few system calls durability rests on. .NET can flush a file but cannot open a directory,
/// and a rename is only durable once the directory that holds it is synced, so these go to libc.
/// </summary>
internal static partial class Durability
{
    /// <summary>An fsync slower than this is logged: it usually means a sick or saturated disk.</summary>
    public static readonly TimeSpan SlowSync = TimeSpan.FromMilliseconds(100);

    // Only O_RDONLY: a directory opens read-only on Linux, and O_DIRECTORY differs by architecture
    // (0x10000 on x86-64, 0x4000 on arm64, where 0x10000 is O_DIRECT and makes the open fail).
    const int O_RDONLY = 0;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    /// <summary>Flushes a file's data (and the size needed to read it) to the device. Returns the time it took.</summary>
    public static TimeSpan SyncData(SafeFileHandle file, string path)
    {
        var started = Stopwatch.GetTimestamp();
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            if (fdatasync((int)file.DangerousGetHandle()) != 0)
                throw Fail("fdatasync", path);
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>Makes renames and creations inside <paramref name="directory"/> durable.</summary>
    public static void SyncDirectory(string directory)
    {
        var fd = Open(directory, O_RDONLY);
        if (fd < 0) throw Fail("open", directory);
        try
        {
            if (fsync(fd) != 0) throw Fail("fsync", directory);
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>
    /// Replaces <paramref name="target"/> with the already-synced <paramref name="temporary"/>:
    /// rename is atomic, and syncing the directory afterwards makes the new name survive a crash.
    /// </summary>
    public static void Replace(string temporary, string target)
    {
        File.Move(temporary, target, overwrite: true);
        SyncDirectory(DirectoryOf(target));
    }

    public static string DirectoryOf(string file) => Path.GetDirectoryName(Path.GetFullPath(file))!;

    static IOException Fail(string call, string path)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }
}
