using System.Runtime.InteropServices;

namespace Ksana.Http.Trust;

/// <summary>
/// The Standard Webhooks secrets of SIGNING_KEYS_FILE (SPEC §8), one per line. Like the API keys
/// the file is re-read when its size or modification time changes (checked every second) and on
/// SIGHUP. Unlike them, a file that cannot be read or holds a bad line does not change anything:
/// the previous good set stays in force, because dropping it would send unsigned requests to
/// callees that expect signatures, and half a file is most often a file caught mid-write. To turn
/// signing off, empty the file (or comment every line out).
/// Neither the file's content nor any part of a bad line is ever logged.
/// </summary>
public sealed class SigningKeys : IDisposable
{
    public static readonly TimeSpan PollInterval = WatchedFile.PollInterval;

    /// <summary>Sixteen secrets take about 1.5 KB; a file far larger than that is not a keys file.</summary>
    public const long FileBytesMax = 64 * 1024;

    readonly string? _path;
    readonly ILogger _log;
    readonly WatchedFile? _file;
    WebhookSigner? _signer;
    string? _problem;

    public SigningKeys(string? path, TimeProvider time, ILogger<SigningKeys> log)
    {
        _path = path;
        _log = log;
        if (path is null) return;
        _file = new WatchedFile(path, time, OnChanged);
    }

    /// <summary>The signer for the current secrets, or null when signing is off (no file, or no secret in it).</summary>
    public WebhookSigner? Signer => Volatile.Read(ref _signer);

    /// <summary>
    /// Why the last read of the file was not used (it names the file and the line, never the
    /// secret), or null when it was. At start-up a problem here is bad configuration: the host
    /// should stop with this line (exit code 2) rather than run without the signatures it was asked for.
    /// </summary>
    public string? Problem => Volatile.Read(ref _problem);

    /// <summary>Re-reads the file now if it changed, or whatever it holds when <paramref name="force"/> (SIGHUP, tests).</summary>
    public void Reload(bool force) => _file?.Check(force);

    void OnChanged(bool force, long? length)
    {
        if (_path is null) return;
        {

            var (signer, problem) = Read(_path, length);
            if (signer is null)
            {
                Volatile.Write(ref _problem, problem);
                var kept = Signer?.Count ?? 0;
                _log.LogWarning("{Problem}; keeping the previous {Count} signing secret(s)", problem, kept);
                return;
            }
            var before = Signer?.Count;
            Volatile.Write(ref _problem, null);
            Volatile.Write(ref _signer, signer.Count == 0 ? null : signer);
            if (signer.Count == 0)
                _log.LogInformation("SIGNING_KEYS_FILE {Path} holds no secret: callbacks are not signed", _path);
            else if (before != signer.Count || !force)
                _log.LogInformation("Signing secrets loaded from {Path}: {Count}", _path, signer.Count);
        }
    }

    /// <summary>
    /// The start-up check of SIGNING_KEYS_FILE: null when the file can be read and every line is a
    /// secret, else why not (naming the line, never the secret). An empty file is fine: signing is off.
    /// </summary>
    public static string? Check(string path)
    {
        long? length;
        try
        {
            var info = new FileInfo(path);
            length = info.Exists ? info.Length : null;
        }
        catch (IOException)
        {
            length = null;
        }
        var (signer, problem) = Read(path, length);
        // Read names the variable and the path; the settings error already shows both.
        return signer is not null ? null : problem.StartsWith($"SIGNING_KEYS_FILE {path} ", StringComparison.Ordinal)
            ? problem[$"SIGNING_KEYS_FILE {path} ".Length..] : problem;
    }

    /// <summary>
    /// The <c>webhook-signature</c> value for <paramref name="id"/>, <paramref name="timestamp"/> and
    /// exactly the bytes of <paramref name="body"/>, with the secrets in force now; null when signing
    /// is off. Attempts (through the runner) and Ksana's own events sign through here alike.
    /// </summary>
    public string? Sign(string id, long timestamp, ReadOnlySpan<byte> body) => Signer?.Sign(id, timestamp, body);

    /// <summary>The three Standard Webhooks headers for one delivery (an event to EVENTS_URL); none while signing is off.</summary>
    public IEnumerable<KeyValuePair<string, string>> Headers(string id, long timestamp, byte[] body)
    {
        var headers = new List<KeyValuePair<string, string>>(3);
        Scheduling.WebhookHeaders.Add(headers, Sign, id, timestamp, body);
        return headers;
    }

    static (WebhookSigner? Signer, string Problem) Read(string path, long? length)
    {
        if (length is null) return (null, $"SIGNING_KEYS_FILE {path} does not exist");
        if (length > FileBytesMax) return (null, $"SIGNING_KEYS_FILE {path} is larger than {FileBytesMax} bytes");
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // These messages name the path and the OS reason, never the content.
            return (null, $"SIGNING_KEYS_FILE {path} cannot be read ({e.Message})");
        }
        var signer = WebhookSigner.Parse(lines, out var error);
        return signer is null ? (null, $"SIGNING_KEYS_FILE {path} {error}") : (signer, "");
    }

    public void Dispose()
    {
        _file?.Dispose();
    }
}
