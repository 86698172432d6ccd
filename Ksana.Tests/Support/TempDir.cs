namespace Ksana.Tests.Support;

/// <summary>
/// A directory that belongs to one test and is deleted when it ends: it holds the data directory
/// (<see cref="Data"/>, which Ksana creates itself), a keys file and whatever else the test writes.
/// </summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; }

    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ksana-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>The data directory the server is given.</summary>
    public string Data => Combine("data");

    public string Journal => Combine("data", Storage.Journal.FileName);

    /// <summary>Writes a keys file holding <paramref name="keys"/>, one per line, and returns its path.</summary>
    public string WriteKeys(params string[] keys) => WriteKeysText(string.Join('\n', keys) + "\n");

    /// <summary>Writes a keys file with exactly this text and returns its path.</summary>
    public string WriteKeysText(string text)
    {
        var path = Combine("keys");
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
