using System.Net;
using Ksana.Http.Trust;
using Microsoft.Extensions.Time.Testing;

namespace Ksana.Tests.Unit.Trust;

public class AuthThrottleTests
{
    static readonly IPAddress A = IPAddress.Parse("203.0.113.1");
    static readonly IPAddress B = IPAddress.Parse("203.0.113.2");

    static void Fail(AuthThrottle throttle, IPAddress ip, int times)
    {
        for (var i = 0; i < times; i++) throttle.RecordFailure(ip);
    }

    [Test]
    public async Task Thirty_failures_within_a_minute_throttle_that_address_only()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time);
        Fail(throttle, A, 29);
        await Assert.That(throttle.IsThrottled(A, out _)).IsFalse();

        time.Advance(TimeSpan.FromSeconds(20));
        throttle.RecordFailure(A);
        await Assert.That(throttle.IsThrottled(A, out var wait)).IsTrue();
        // The first failure was 20 s ago: the minute has passed in 40 s.
        await Assert.That(wait).IsEqualTo(TimeSpan.FromSeconds(40));
        await Assert.That(AuthThrottle.RetryAfterSeconds(wait)).IsEqualTo(40);
        await Assert.That(throttle.IsThrottled(B, out var none)).IsFalse();
        await Assert.That(none).IsEqualTo(TimeSpan.Zero);
    }

    [Test]
    public async Task The_throttle_lifts_when_the_minute_has_passed_and_then_allows_one_more_guess_at_a_time()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time);
        throttle.RecordFailure(A);
        time.Advance(TimeSpan.FromSeconds(10));
        Fail(throttle, A, 29);
        await Assert.That(throttle.IsThrottled(A, out var wait)).IsTrue();
        await Assert.That(wait).IsEqualTo(TimeSpan.FromSeconds(50));

        time.Advance(TimeSpan.FromSeconds(49.5));
        await Assert.That(throttle.IsThrottled(A, out wait)).IsTrue();
        await Assert.That(AuthThrottle.RetryAfterSeconds(wait)).IsEqualTo(1);

        time.Advance(TimeSpan.FromSeconds(0.5));
        await Assert.That(throttle.IsThrottled(A, out _)).IsFalse();
        // The other 29 failures are 50 s old: one more guess, and the address waits for them.
        throttle.RecordFailure(A);
        await Assert.That(throttle.IsThrottled(A, out wait)).IsTrue();
        await Assert.That(wait).IsEqualTo(TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task Failures_spread_over_more_than_a_minute_never_throttle()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time);
        for (var i = 0; i < 100; i++)
        {
            throttle.RecordFailure(A);
            await Assert.That(throttle.IsThrottled(A, out _)).IsFalse();
            time.Advance(TimeSpan.FromSeconds(2.1));
        }
    }

    [Test]
    public async Task Mapped_ipv4_counts_as_ipv4_and_ipv6_counts_per_64()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time);
        Fail(throttle, IPAddress.Parse("::ffff:203.0.113.1"), 30);
        await Assert.That(throttle.IsThrottled(A, out _)).IsTrue();

        for (var i = 0; i < 30; i++) throttle.RecordFailure(IPAddress.Parse($"2001:db8:1:2::{i + 1:x}"));
        await Assert.That(throttle.IsThrottled(IPAddress.Parse("2001:db8:1:2:ffff::1"), out _)).IsTrue();
        await Assert.That(throttle.IsThrottled(IPAddress.Parse("2001:db8:1:3::1"), out _)).IsFalse();
    }

    [Test]
    public async Task Memory_is_bounded_by_forgetting_the_least_recently_failed_address()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time, failuresMax: 3, addressesMax: 100);
        Fail(throttle, A, 3);
        for (var i = 0; i < 99; i++)
            throttle.RecordFailure(IPAddress.Parse($"198.51.100.{i}"));
        await Assert.That(throttle.Count).IsEqualTo(100);
        await Assert.That(throttle.IsThrottled(A, out _)).IsTrue();

        throttle.RecordFailure(B);
        await Assert.That(throttle.Count).IsEqualTo(100);
        await Assert.That(throttle.IsThrottled(A, out _)).IsFalse();
    }

    [Test]
    public async Task Quiet_addresses_are_forgotten_after_the_window()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time);
        for (var i = 0; i < 50; i++) throttle.RecordFailure(IPAddress.Parse($"198.51.100.{i}"));
        time.Advance(TimeSpan.FromMinutes(1));
        throttle.RecordFailure(A);
        await Assert.That(throttle.Count).IsEqualTo(1);
    }
}
