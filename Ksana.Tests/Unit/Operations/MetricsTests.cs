using System.Buffers;
using System.Text;
using Ksana.Operations;
using Ksana.Scheduling;
using Ksana.Tests.Support;

namespace Ksana.Tests.Unit.Operations;

public class MetricsTests
{
    static string Text(Action<MetricsWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(new MetricsWriter(buffer));
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    static string Scrape(KsanaMetrics metrics)
    {
        var buffer = new ArrayBufferWriter<byte>();
        metrics.WriteTo(buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    static KsanaMetrics NewMetrics() => new("1.2.3", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    /// <summary>A registry that has seen a bit of everything: runs of each status, each attempt outcome, fsyncs, failures.</summary>
    static KsanaMetrics MixedWorkload()
    {
        var metrics = NewMetrics();
        metrics.JobsByState = () => new KsanaMetrics.JobCounts(7, 2, 1, 1);
        metrics.JournalBytes.ReadFrom(() => 123_456);
        metrics.EventsPending.Set(3);
        foreach (var ms in new[] { 0.4, 3, 12, 80, 700, 4_000, 90_000 })
        {
            metrics.RunStarted(TimeSpan.FromMilliseconds(ms));
            metrics.AttemptStarted();
            metrics.AttemptFinished(KsanaMetrics.Outcome.Success, TimeSpan.FromMilliseconds(ms / 2));
            metrics.RunFinished(RunStatus.Succeeded);
        }
        metrics.AttemptStarted();
        metrics.AttemptFinished(KsanaMetrics.Outcome.HttpError, TimeSpan.FromMilliseconds(20));
        metrics.RetryWaiting();
        metrics.AttemptStarted();
        metrics.AttemptFinished(KsanaMetrics.Outcome.Timeout, TimeSpan.FromSeconds(10));
        metrics.AttemptStarted();
        metrics.AttemptFinished(KsanaMetrics.Outcome.ConnectionError, TimeSpan.FromMilliseconds(1));
        metrics.AttemptBlocked();
        metrics.RunFinished(RunStatus.Failed);
        metrics.RunFinished(RunStatus.Skipped);
        metrics.RunFinished(RunStatus.Missed);
        metrics.RunFinished(RunStatus.Running); // not final: ignored
        metrics.AttemptStarted(); // one still in flight
        metrics.JournalSynced(TimeSpan.FromMicroseconds(150));
        metrics.JournalSynced(TimeSpan.FromMilliseconds(30));
        metrics.JournalCompacted();
        metrics.JournalWriteFailed();
        metrics.AuthFailed();
        metrics.AuthFailed();
        return metrics;
    }

    [Test]
    public async Task A_labelled_counter_writes_help_type_and_one_line_per_label_value()
    {
        var counter = new Counter("x_runs_total", "Runs.", "status", ["ok", "bad"]);
        counter.Increment(1);
        counter.Add(4, 1);
        counter.Increment(0);
        await Assert.That(Text(counter.WriteTo)).IsEqualTo(
            "# HELP x_runs_total Runs.\n# TYPE x_runs_total counter\nx_runs_total{status=\"ok\"} 1\nx_runs_total{status=\"bad\"} 5\n");
    }

    [Test]
    public async Task A_histogram_writes_cumulative_buckets_inf_sum_and_count()
    {
        var histogram = new Histogram("x_wait_seconds", "Waits.", [0.001, 0.01, 1]);
        histogram.Observe(TimeSpan.FromMilliseconds(1)); // on a bound: le is inclusive
        histogram.Observe(TimeSpan.FromMilliseconds(5));
        histogram.Observe(TimeSpan.FromMilliseconds(5));
        histogram.Observe(TimeSpan.FromSeconds(3));
        histogram.Observe(TimeSpan.FromSeconds(-1)); // a clock step counts as 0
        await Assert.That(Text(histogram.WriteTo)).IsEqualTo(
            "# HELP x_wait_seconds Waits.\n# TYPE x_wait_seconds histogram\n" +
            "x_wait_seconds_bucket{le=\"0.001\"} 2\n" +
            "x_wait_seconds_bucket{le=\"0.01\"} 4\n" +
            "x_wait_seconds_bucket{le=\"1\"} 4\n" +
            "x_wait_seconds_bucket{le=\"+Inf\"} 5\n" +
            "x_wait_seconds_sum 3.011\n" +
            "x_wait_seconds_count 5\n");
    }

    [Test]
    public async Task Label_values_and_help_are_escaped()
    {
        var text = Text(w =>
        {
            w.Family("x", "a \\ back\nslash", "gauge");
            w.Sample("x", null, "v", "q\"uo\\te\nnew é", 1L);
        });
        await Assert.That(text).IsEqualTo("# HELP x a \\\\ back\\nslash\n# TYPE x gauge\nx{v=\"q\\\"uo\\\\te\\nnew é\"} 1\n");
    }

    [Test]
    public async Task Special_doubles_are_spelled_as_prometheus_reads_them()
    {
        var text = Text(w =>
        {
            w.Sample("a", null, null, null, double.PositiveInfinity);
            w.Sample("b", null, null, null, double.NegativeInfinity);
            w.Sample("c", null, null, null, double.NaN);
            w.Sample("d", null, null, null, 0.0001);
            w.Sample("e", null, null, null, 1e21);
        });
        await Assert.That(text).IsEqualTo("a +Inf\nb -Inf\nc NaN\nd 0.0001\ne 1E+21\n");
    }

    [Test]
    public async Task A_gauge_reads_its_callback_at_scrape_time()
    {
        var gauge = new Gauge("x_bytes", "Bytes.");
        gauge.Set(5);
        await Assert.That(gauge.Value).IsEqualTo(5.0);
        var size = 10;
        gauge.ReadFrom(() => size);
        size = 42;
        await Assert.That(Text(gauge.WriteTo)).IsEqualTo("# HELP x_bytes Bytes.\n# TYPE x_bytes gauge\nx_bytes 42\n");
    }

    [Test]
    public async Task Every_series_of_spec_section_11_is_there_with_its_labels()
    {
        var text = Scrape(MixedWorkload());
        string[] lines =
        [
            "# TYPE ksana_jobs gauge", "ksana_jobs{state=\"scheduled\"} 7", "ksana_jobs{state=\"paused\"} 2",
            "ksana_jobs{state=\"completed\"} 1", "ksana_jobs{state=\"missed\"} 1",
            "# TYPE ksana_runs_total counter", "ksana_runs_total{status=\"succeeded\"} 7", "ksana_runs_total{status=\"failed\"} 1",
            "ksana_runs_total{status=\"skipped\"} 1", "ksana_runs_total{status=\"missed\"} 1",
            "# TYPE ksana_attempts_total counter", "ksana_attempts_total{outcome=\"success\"} 7",
            "ksana_attempts_total{outcome=\"http_error\"} 1", "ksana_attempts_total{outcome=\"timeout\"} 1",
            "ksana_attempts_total{outcome=\"connection_error\"} 1", "ksana_attempts_total{outcome=\"blocked\"} 1",
            "# TYPE ksana_run_lateness_seconds histogram", "ksana_run_lateness_seconds_bucket{le=\"0.001\"} 1",
            "ksana_run_lateness_seconds_bucket{le=\"60\"} 6", "ksana_run_lateness_seconds_bucket{le=\"+Inf\"} 7",
            "ksana_run_lateness_seconds_count 7",
            "# TYPE ksana_attempt_duration_seconds histogram", "ksana_attempt_duration_seconds_count 10",
            "# TYPE ksana_attempts_in_flight gauge", "ksana_attempts_in_flight 1",
            "# TYPE ksana_retries_waiting gauge", "ksana_retries_waiting 1",
            "# TYPE ksana_journal_sync_seconds histogram", "ksana_journal_sync_seconds_bucket{le=\"0.0001\"} 0",
            "ksana_journal_sync_seconds_bucket{le=\"0.00025\"} 1", "ksana_journal_sync_seconds_count 2",
            "ksana_journal_sync_seconds_sum 0.03015",
            "# TYPE ksana_journal_bytes gauge", "ksana_journal_bytes 123456",
            "# TYPE ksana_journal_compactions_total counter", "ksana_journal_compactions_total 1",
            "# TYPE ksana_journal_write_errors_total counter", "ksana_journal_write_errors_total 1",
            "# TYPE ksana_auth_failures_total counter", "ksana_auth_failures_total 2",
            "# TYPE ksana_events_pending gauge", "ksana_events_pending 3",
            "# TYPE ksana_build_info gauge", "ksana_build_info{version=\"1.2.3\"} 1",
            "# TYPE process_cpu_seconds_total counter", "process_start_time_seconds 1700000000",
            "# TYPE dotnet_gc_collections_total counter", "# TYPE dotnet_gc_pause_seconds_total counter",
        ];
        var have = text.Split('\n').ToHashSet();
        var missing = lines.Where(l => !have.Contains(l)).ToList();
        await Assert.That(missing).IsEmpty().Because(text);
    }

    [Test]
    public async Task A_fresh_registry_shows_every_label_value_at_zero()
    {
        var text = Scrape(NewMetrics());
        foreach (var line in new[] { "ksana_jobs{state=\"missed\"} 0", "ksana_runs_total{status=\"skipped\"} 0",
                     "ksana_attempts_total{outcome=\"blocked\"} 0", "ksana_run_lateness_seconds_count 0", "ksana_run_lateness_seconds_sum 0" })
            await Assert.That(text.Split('\n')).Contains(line);
    }

    [Test]
    public async Task Promtool_accepts_the_output_of_a_mixed_workload()
    {
        var text = Scrape(MixedWorkload());
        var (exit, output) = await Promtool.CheckMetricsAsync(text);
        await Assert.That(exit).IsEqualTo(0).Because($"promtool check metrics said:\n{output}\non:\n{text}");
        // promtool's lint findings (a counter without _total, a missing HELP) print but do not fail it.
        await Assert.That(output.Trim()).IsEmpty().Because($"promtool check metrics found problems:\n{output}");
    }

    [Test]
    public async Task Recording_allocates_nothing()
    {
        var metrics = NewMetrics();
        Record(metrics); // warm up
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) Record(metrics);
        await Assert.That(GC.GetAllocatedBytesForCurrentThread() - before).IsEqualTo(0L);

        static void Record(KsanaMetrics m)
        {
            m.RunStarted(TimeSpan.FromMilliseconds(3));
            m.AttemptStarted();
            m.AttemptFinished(KsanaMetrics.Outcome.Success, TimeSpan.FromMilliseconds(40));
            m.RunFinished(RunStatus.Succeeded);
        }
    }
}
