namespace Ksana.Tests.EndToEnd;

/// <summary>A directory that belongs to one test and is deleted when it ends.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; }

    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ksana-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>The data directory the server is given (it creates it itself).</summary>
    public string Data => Combine("data");

    public string Journal => Combine("data", "journal.jsonl");

    /// <summary>Writes a keys file holding <paramref name="keys"/>, one per line, and returns its path.</summary>
    public string WriteKeys(params string[] keys)
    {
        var path = Combine("keys");
        File.WriteAllText(path, string.Join('\n', keys) + "\n");
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
