namespace Ksana.Tests.Support;

/// <summary>Finds files of the source tree from a test running in bin/…: the directory that holds Ksana.csproj.</summary>
public static class Repository
{
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ksana.csproj")))
                return dir.FullName;
        throw new InvalidOperationException($"no Ksana.csproj above {AppContext.BaseDirectory}: the tests must run from the source tree");
    }

    public static string PathOf(params string[] parts) => Path.Combine([Root(), .. parts]);
}
