using System.Globalization;

namespace Ksana.Tests.Support;

/// <summary>Reads a Prometheus text exposition (GET /metrics) as its samples.</summary>
public static class Exposition
{
    /// <summary>Each sample's value by its name and labels as written (<c>name{label="v"}</c>); comments are skipped.</summary>
    public static Dictionary<string, double> Samples(string exposition)
    {
        var samples = new Dictionary<string, double>();
        foreach (var line in exposition.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }
        return samples;
    }
}
