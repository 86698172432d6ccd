using System.Runtime.InteropServices;

namespace Ksana.Http;

/// <summary>
/// A configuration file Ksana re-reads when it changes (SPEC §3, §8): its size and modification
/// time are checked every second, and SIGHUP re-reads it at once, so keys and secrets rotate
/// without a restart. <c>read(force, length)</c> runs under a lock, with the file's length now
/// (null when it is missing).
/// </summary>
public sealed class WatchedFile : IDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    readonly string _path;
    readonly Action<bool, long?> _read;
    readonly Lock _lock = new();
    readonly ITimer _poll;
    readonly PosixSignalRegistration _hangup;
    (DateTime Modified, long Length)? _seen;

    public WatchedFile(string path, TimeProvider time, Action<bool, long?> read)
    {
        _path = path;
        _read = read;
        Check(force: true);
        _poll = time.CreateTimer(_ => Check(force: false), null, PollInterval, PollInterval);
        _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true; // SIGHUP means "re-read the keys", not "exit".
            Check(force: true);
        });
    }

    /// <summary>Reads the file again if it changed, or whatever it holds when <paramref name="force"/>.</summary>
    public void Check(bool force)
    {
        lock (_lock)
        {
            (DateTime, long)? stamp;
            try
            {
                var info = new FileInfo(_path);
                stamp = info.Exists ? (info.LastWriteTimeUtc, info.Length) : null;
            }
            catch (IOException)
            {
                stamp = null;
            }
            if (!force && stamp == _seen) return;
            _seen = stamp;
            _read(force, stamp?.Item2);
        }
    }

    public void Dispose()
    {
        _poll.Dispose();
        _hangup.Dispose();
    }
}
