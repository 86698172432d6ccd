using System.Globalization;

namespace Ksana.Operations;

/// <summary>
/// The standard <c>process_*</c> series every Prometheus client exports, read at scrape time: CPU
/// from the runtime, memory from <c>/proc/self/statm</c>, open descriptors from <c>/proc/self/fd</c>.
/// Where /proc is missing (not Linux) the memory and descriptor lines are left out rather than
/// reported as zero.
/// </summary>
static class ProcessStats
{
    public static void WriteTo(MetricsWriter writer, double startTimeSeconds)
    {
        writer.Family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter");
        writer.Sample("process_cpu_seconds_total", null, null, null, Environment.CpuUsage.TotalTime.TotalSeconds);

        writer.Family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge");
        writer.Sample("process_start_time_seconds", null, null, null, startTimeSeconds);

        if (Memory() is var (virtualBytes, residentBytes))
        {
            writer.Family("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
            writer.Sample("process_virtual_memory_bytes", null, null, null, virtualBytes);
            writer.Family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
            writer.Sample("process_resident_memory_bytes", null, null, null, residentBytes);
        }
        if (OpenDescriptors() is { } open)
        {
            writer.Family("process_open_fds", "Number of open file descriptors.", "gauge");
            writer.Sample("process_open_fds", null, null, null, open);
        }

        writer.Family("dotnet_gc_heap_bytes", "Bytes the .NET garbage collector's heap holds, from the last collection.", "gauge");
        writer.Sample("dotnet_gc_heap_bytes", null, null, null, GC.GetGCMemoryInfo().HeapSizeBytes);
        writer.Family("dotnet_gc_collections_total", "Garbage collections since start, by generation.", "counter");
        for (var generation = 0; generation < Generations.Length; generation++)
            writer.Sample("dotnet_gc_collections_total", null, "generation", Generations[generation], (long)GC.CollectionCount(generation));
        // Every managed thread stands still for a pause: a burst of due slots is late by as much.
        writer.Family("dotnet_gc_pause_seconds_total", "Time the garbage collector has paused the process since start.", "counter");
        writer.Sample("dotnet_gc_pause_seconds_total", null, null, null, GC.GetTotalPauseDuration().TotalSeconds);
        // Bytes allocated per callback is the figure the run path is tuned on (README, "Benchmarks").
        writer.Family("dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since start.", "counter");
        writer.Sample("dotnet_gc_allocated_bytes_total", null, null, null, GC.GetTotalAllocatedBytes());
    }

    static readonly string[] Generations = ["0", "1", "2"];

    /// <summary>statm: size and resident, in pages.</summary>
    static (long Virtual, long Resident)? Memory()
    {
        try
        {
            var fields = File.ReadAllText("/proc/self/statm").Split(' ', 3);
            var page = Environment.SystemPageSize;
            return (long.Parse(fields[0], CultureInfo.InvariantCulture) * page,
                long.Parse(fields[1], CultureInfo.InvariantCulture) * page);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    static long? OpenDescriptors()
    {
        try
        {
            long count = 0;
            foreach (var _ in Directory.EnumerateFileSystemEntries("/proc/self/fd")) count++;
            return count;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
