using Microsoft.Win32.SafeHandles;

namespace Ksana.Storage;

/// <summary>
/// SPEC §1: what Ksana keeps in DATA_DIR is readable by its owner only (files 0600, the directory
/// 0700), because jobs hold secrets (§8) in the clear. The directory's mode is the real guard: no
/// other user can reach a file inside it. Files are also set on the open handle (fchmod), which
/// covers a file an older version created with the umask's mode.
/// </summary>
internal static class OwnerOnly
{
    public const UnixFileMode ForFiles = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode ForDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="path"/> 0700 when missing; an existing directory keeps the mode its owner gave it.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, ForDirectory);
    }

    /// <summary>Makes an open file 0600.</summary>
    public static SafeFileHandle Restrict(SafeFileHandle file)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, ForFiles);
        return file;
    }
}
