using Ksana.Scheduling;

namespace Ksana.Tests.Unit;

/// <summary>
/// A job is one record with its spec and target held in it as values, its times as UTC ticks, and
/// its parsed URL cached: none of that may show in what a job says or in how jobs compare.
/// </summary>
public class JobTests
{
    static readonly DateTimeOffset T0 = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    static Job NewJob() => new(Guid.NewGuid(), Rig.Every(TimeSpan.FromSeconds(1)), T0, T0.AddSeconds(1), T0.AddSeconds(2), OnceOutcome.Pending, 1);

    [Test]
    public async Task A_job_keeps_each_time_as_the_same_instant_in_UTC()
    {
        var berlin = new DateTimeOffset(2030, 6, 1, 14, 30, 0, 123, TimeSpan.FromHours(2));
        var job = NewJob() with { CreatedAt = berlin, UpdatedAt = berlin.AddTicks(1), GridOrigin = berlin.AddDays(-1) };
        await Assert.That(job.CreatedAt).IsEqualTo(berlin);
        await Assert.That(job.CreatedAt.Offset).IsEqualTo(TimeSpan.Zero);
        await Assert.That(job.CreatedAt.UtcTicks).IsEqualTo(berlin.UtcTicks);
        await Assert.That(job.UpdatedAt.UtcTicks).IsEqualTo(berlin.UtcTicks + 1);
        await Assert.That(job.GridOrigin).IsEqualTo(berlin.AddDays(-1));
        // Through the constructor as through with.
        var made = new Job(job.Id, job.Spec, berlin, berlin, berlin, OnceOutcome.Pending, 1);
        await Assert.That(made.CreatedAt.UtcTicks).IsEqualTo(berlin.UtcTicks);
        await Assert.That(made.GridOrigin.Offset).IsEqualTo(TimeSpan.Zero);
    }

    [Test]
    public async Task A_job_parses_its_url_once_and_again_only_for_a_new_url()
    {
        var job = NewJob();
        var first = job.Address;
        await Assert.That(job.Address).IsSameReferenceAs(first);
        await Assert.That(first.OriginalString).IsEqualTo(job.Spec.Http.Url);
        // A copy carries the parsed URL while its URL is the same string, and parses a new one.
        var renamed = job with { Spec = job.Spec with { Name = "other" } };
        await Assert.That(renamed.Address).IsSameReferenceAs(first);
        var moved = job with { Spec = job.Spec with { Http = job.Spec.Http with { Url = "http://127.0.0.1:2/elsewhere" } } };
        await Assert.That(moved.Address.OriginalString).IsEqualTo("http://127.0.0.1:2/elsewhere");
        await Assert.That(job.Address).IsSameReferenceAs(first);
    }

    [Test]
    public async Task A_parsed_url_takes_no_part_in_how_jobs_compare()
    {
        var job = NewJob();
        var copy = job with { };
        _ = job.Address;
        await Assert.That(job).IsEqualTo(copy);
        await Assert.That(job.GetHashCode()).IsEqualTo(copy.GetHashCode());
        // Values compare by value: the same spec made twice is the same spec.
        var again = job with { Spec = Rig.Every(TimeSpan.FromSeconds(1)) };
        await Assert.That(again).IsEqualTo(job);
        await Assert.That(job with { Spec = job.Spec with { Http = job.Spec.Http with { Headers = [new("X-A", "1")] } } }).IsNotEqualTo(job);
    }
}
