namespace Ksana.Tests.EndToEnd;

/// <summary>
/// The published binary's young generation (README, "Memory against burst speed"): capped at 4 MiB
/// in the binary (Ksana.csproj, GCGen0MaxBudget). Left to the runtime it is sized from the CPU's
/// largest cache (16 MiB on a 32 MiB L3, more on VMs that report a larger one), and all of it is
/// resident under load.
/// </summary>
public sealed class MemoryTests
{
    const string Key = "memory-key";
    const long MiB = 1 << 20;

    [Test]
    public async Task The_young_generation_is_collected_every_few_megabytes()
    {
        // Only this variable overrides the cap (a GCgen0size above it is cut down to it).
        if (Environment.GetEnvironmentVariable("DOTNET_GCGen0MaxBudget") is { Length: > 0 })
            Skip.Test("DOTNET_GCGen0MaxBudget is set here, and the binary inherits it");
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys);
        using var api = ksana.Api(Key);
        for (var i = 0; i < 200; i++) await api.CreateJobAsync(JobDocs.Hourly($"job-{i}"));

        // Listing the jobs allocates in Ksana and keeps nothing: what it allocates is young garbage.
        var (allocated0, collections0) = await Gc(api);
        var (allocated, collections) = (allocated0, collections0);
        while (allocated - allocated0 < 48 * MiB)
        {
            for (var i = 0; i < 20; i++) await api.GetJsonAsync("/jobs?limit=200");
            (allocated, collections) = await Gc(api);
        }

        // A budget of at most 4 MiB makes 12 or more collections of 48 MiB; allow for 8 MiB (6).
        // The runtime's own 16 MiB here would make about 3.
        var expected = (allocated - allocated0) / (8 * MiB);
        await Assert.That(collections - collections0).IsGreaterThanOrEqualTo(expected)
            .Because($"{(allocated - allocated0) / MiB} MiB allocated, {collections - collections0} young collections");
    }

    /// <summary>Bytes allocated and collections of the young generation so far, from /metrics.</summary>
    static async Task<(long Allocated, long Collections)> Gc(KsanaApi api)
    {
        var text = await api.Client.GetStringAsync("/metrics");
        var samples = Exposition.Samples(text);
        if (!samples.TryGetValue("dotnet_gc_allocated_bytes_total", out var allocated)
            || !samples.TryGetValue("dotnet_gc_collections_total{generation=\"0\"}", out var collections))
            throw new InvalidOperationException("/metrics lacks the GC counters:\n" + text);
        return ((long)allocated, (long)collections);
    }
}
