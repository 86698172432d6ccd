using System.Buffers;
using System.Diagnostics;
using Ksana.Operations;
using Ksana.Scheduling;

// What one callback costs in metrics: its run starts (lateness), one attempt starts and ends
// (in-flight gauge, outcome counter, duration histogram), the run ends (status counter).
// Measured on one thread, then on every core at once hitting the same registry (the contended case).

const int Iterations = 20_000_000;
var metrics = new KsanaMetrics("bench", DateTimeOffset.UtcNow);
var lateness = TimeSpan.FromMilliseconds(3);
var duration = TimeSpan.FromMilliseconds(42);

void OneCallback()
{
    metrics.RunStarted(lateness);
    metrics.AttemptStarted();
    metrics.AttemptFinished(KsanaMetrics.Outcome.Success, duration);
    metrics.RunFinished(RunStatus.Succeeded);
}

double Measure(int threads)
{
    var per = Iterations / threads;
    var start = Stopwatch.GetTimestamp();
    var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
    {
        for (var i = 0; i < per; i++) OneCallback();
    })).ToList();
    workers.ForEach(t => t.Start());
    workers.ForEach(t => t.Join());
    var elapsed = Stopwatch.GetElapsedTime(start);
    // Per callback as one thread sees it: wall time × threads / callbacks.
    return elapsed.TotalNanoseconds * threads / (per * (double)threads);
}

for (var i = 0; i < 1_000_000; i++) OneCallback(); // let tiered compilation settle
Measure(1);
var single = Enumerable.Range(0, 5).Select(_ => Measure(1)).Min();
var cores = Environment.ProcessorCount;
var contended = Enumerable.Range(0, 5).Select(_ => Measure(cores)).Min();

var buffer = new ArrayBufferWriter<byte>(64 * 1024);
var scrapeStart = Stopwatch.GetTimestamp();
const int Scrapes = 2_000;
for (var i = 0; i < Scrapes; i++)
{
    buffer.ResetWrittenCount();
    metrics.WriteTo(buffer);
}
var scrape = Stopwatch.GetElapsedTime(scrapeStart) / Scrapes;

Console.WriteLine($"one callback's metrics, 1 thread:        {single,7:F1} ns");
Console.WriteLine($"one callback's metrics, {cores} threads (each): {contended,7:F1} ns");
Console.WriteLine($"one scrape ({buffer.WrittenCount} bytes):          {scrape.TotalMicroseconds,7:F1} µs");
