namespace Ksana.Storage;

/// <summary>
/// Keeps a second process off the same data directory. .NET maps <see cref="FileShare.None"/> to an
/// exclusive <c>flock</c> on Linux, which the kernel drops when the process dies, even by kill -9,
/// so a crash never leaves a stale lock behind.
/// </summary>
public sealed class DataDirLock : IDisposable
{
    readonly FileStream _file;

    DataDirLock(FileStream file) => _file = file;

    public static DataDirLock Acquire(string dataDir)
    {
        var path = Path.Combine(dataDir, "ksana.lock");
        try
        {
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            OwnerOnly.Restrict(file.SafeFileHandle);
            file.SetLength(0);
            var pid = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
            file.Write(pid);
            file.Flush();
            return new DataDirLock(file);
        }
        catch (IOException e)
        {
            throw new StartupException(
                $"data directory {Path.GetFullPath(dataDir)} is in use by another ksana process (lock {path}: {e.Message})");
        }
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>A reason not to start, said in one line to the operator.</summary>
public sealed class StartupException(string message) : Exception(message);
