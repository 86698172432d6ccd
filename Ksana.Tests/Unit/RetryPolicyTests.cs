using System.Net;
using Ksana.Http.Outbound;
using Ksana.Scheduling;

namespace Ksana.Tests.Unit;

public class RetryPolicyTests
{
    [Test]
    [Arguments(5, 1, 0.0, 5.0)]
    [Arguments(5, 2, 0.0, 10.0)]
    [Arguments(5, 3, 0.0, 20.0)]
    [Arguments(5, 3, 1.0, 24.0)]
    [Arguments(5, 3, -1.0, 16.0)]
    [Arguments(5, 30, 0.0, 3600.0)]
    [Arguments(5, 30, 1.0, 3600.0)]
    [Arguments(5, 30, -1.0, 2880.0)]
    public async Task Delay_doubles_is_capped_and_jittered(double backoffSeconds, int retry, double jitter, double expectedSeconds)
    {
        var delay = RetryPolicy.Delay(TimeSpan.FromSeconds(backoffSeconds), retry, jitter, null);
        await Assert.That(delay.TotalSeconds).IsEqualTo(expectedSeconds).Within(0.001);
    }

    [Test]
    public async Task A_longer_retry_after_wins_and_is_capped()
    {
        await Assert.That(RetryPolicy.Delay(TimeSpan.FromSeconds(1), 1, 0, TimeSpan.FromSeconds(30))).IsEqualTo(TimeSpan.FromSeconds(30));
        await Assert.That(RetryPolicy.Delay(TimeSpan.FromSeconds(10), 1, 0, TimeSpan.FromSeconds(3))).IsEqualTo(TimeSpan.FromSeconds(10));
        await Assert.That(RetryPolicy.Delay(TimeSpan.FromSeconds(1), 1, 0, TimeSpan.FromHours(5))).IsEqualTo(TimeSpan.FromHours(1));
    }

    [Test]
    [Arguments(HttpStatusCode.TooManyRequests, "7", 7.0)]
    [Arguments(HttpStatusCode.ServiceUnavailable, "120", 120.0)]
    [Arguments(HttpStatusCode.InternalServerError, "7", -1.0)]
    [Arguments(HttpStatusCode.TooManyRequests, null, -1.0)]
    public async Task Retry_after_is_read_only_from_429_and_503(HttpStatusCode status, string? header, double expected)
    {
        using var response = new HttpResponseMessage(status);
        if (header is not null) response.Headers.TryAddWithoutValidation("Retry-After", header);
        var wait = CallbackSender.RetryAfter(response, DateTimeOffset.UtcNow);
        await Assert.That(wait?.TotalSeconds ?? -1).IsEqualTo(expected);
    }

    [Test]
    public async Task Retry_after_as_a_date()
    {
        var now = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.TryAddWithoutValidation("Retry-After", "Tue, 01 Jan 2030 00:00:42 GMT");
        await Assert.That(CallbackSender.RetryAfter(response, now)).IsEqualTo(TimeSpan.FromSeconds(42));
    }

    [Test]
    [Arguments(408, true)]
    [Arguments(429, true)]
    [Arguments(500, true)]
    [Arguments(503, true)]
    [Arguments(599, true)]
    [Arguments(400, false)]
    [Arguments(404, false)]
    [Arguments(302, false)]
    public async Task Retryable_statuses(int status, bool retryable) =>
        await Assert.That(RetryPolicy.IsRetryable(status)).IsEqualTo(retryable);
}
