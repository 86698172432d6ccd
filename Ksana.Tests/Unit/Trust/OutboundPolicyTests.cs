using System.Net;
using Ksana.Http.Trust;

namespace Ksana.Tests.Unit.Trust;

public class OutboundPolicyTests
{
    static OutboundPolicy Policy(string? deny, string? allow = null, OwnEndpoints? own = null) =>
        OutboundPolicy.Parse(deny, allow, own ?? OwnEndpoints.None, out var error) ?? throw new InvalidOperationException(error);

    [Test]
    [Arguments("loopback", "127.0.0.1", true)]
    [Arguments("loopback", "127.255.0.9", true)]
    [Arguments("loopback", "::1", true)]
    [Arguments("loopback", "0.0.0.0", true)]
    [Arguments("loopback", "::", true)]
    [Arguments("loopback", "10.0.0.1", false)]
    [Arguments("private", "10.1.2.3", true)]
    [Arguments("private", "172.16.0.1", true)]
    [Arguments("private", "172.31.255.255", true)]
    [Arguments("private", "172.32.0.1", false)]
    [Arguments("private", "192.168.1.1", true)]
    [Arguments("private", "100.64.0.1", true)]
    [Arguments("private", "100.128.0.1", false)]
    [Arguments("private", "fc00::1", true)]
    [Arguments("private", "fdff::1", true)]
    [Arguments("private", "127.0.0.1", false)]
    [Arguments("link-local", "169.254.169.254", true)]
    [Arguments("link-local", "fe80::1", true)]
    [Arguments("link-local", "fd00:ec2::254", true)]
    [Arguments("link-local", "100.100.100.200", true)]
    [Arguments("link-local", "fd00:ec2::253", false)]
    [Arguments("link-local", "8.8.8.8", false)]
    [Arguments("LOOPBACK, Private", "192.168.0.1", true)]
    [Arguments("203.0.113.0/24", "203.0.113.77", true)]
    [Arguments("203.0.113.0/24", "203.0.114.1", false)]
    [Arguments("2001:db8::/32", "2001:db8:1::1", true)]
    [Arguments("198.51.100.7", "198.51.100.7", true)]
    [Arguments("", "169.254.169.254", false)]
    [Arguments("none", "169.254.169.254", false)]
    public async Task Named_groups_and_ranges(string deny, string address, bool denied)
    {
        await Assert.That(Policy(deny).IsDenied(IPAddress.Parse(address))).IsEqualTo(denied);
    }

    [Test]
    public async Task The_default_denies_link_local_only()
    {
        var policy = Policy(null);
        await Assert.That(policy.IsDenied(IPAddress.Parse("169.254.169.254"))).IsTrue();
        await Assert.That(policy.IsDenied(IPAddress.Parse("127.0.0.1"))).IsFalse();
        await Assert.That(policy.IsDenied(IPAddress.Parse("10.0.0.1"))).IsFalse();
    }

    [Test]
    [Arguments("::ffff:169.254.169.254", true)]
    [Arguments("::ffff:127.0.0.1", true)]
    [Arguments("::ffff:8.8.8.8", false)]
    public async Task Ipv4_mapped_ipv6_is_judged_as_ipv4(string address, bool denied)
    {
        var policy = Policy("link-local,loopback");
        await Assert.That(policy.IsDenied(IPAddress.Parse(address))).IsEqualTo(denied);
        var error = policy.Check(IPAddress.Parse(address), 80);
        await Assert.That(error).IsEqualTo(denied ? $"blocked by OUTBOUND_DENY: {IPAddress.Parse(address).MapToIPv4()}" : null);
    }

    [Test]
    public async Task Allow_wins_inside_a_denied_range()
    {
        var policy = Policy("private", "192.168.1.20/32, 10.9.0.0/16, ::ffff:10.8.0.0/112");
        await Assert.That(policy.IsDenied(IPAddress.Parse("192.168.1.20"))).IsFalse();
        await Assert.That(policy.IsDenied(IPAddress.Parse("192.168.1.21"))).IsTrue();
        await Assert.That(policy.IsDenied(IPAddress.Parse("10.9.200.1"))).IsFalse();
        await Assert.That(policy.IsDenied(IPAddress.Parse("::ffff:10.9.200.1"))).IsFalse();
        await Assert.That(policy.IsDenied(IPAddress.Parse("10.8.0.5"))).IsFalse();
        await Assert.That(policy.IsDenied(IPAddress.Parse("10.10.0.1"))).IsTrue();
    }

    [Test]
    [Arguments("loopback,10.0.0.1/8", null, "OUTBOUND_DENY: \"10.0.0.1/8\" has bits set after the /8 prefix (did you mean 10.0.0.0/8?); expected a CIDR range (like 10.0.0.0/8) or one of loopback, private, link-local, none")]
    [Arguments("10/8", null, "OUTBOUND_DENY: \"10/8\" is not an IPv4 or IPv6 address; expected a CIDR range (like 10.0.0.0/8) or one of loopback, private, link-local, none")]
    [Arguments("localhost", null, "OUTBOUND_DENY: \"localhost\" is not an IPv4 or IPv6 address; expected a CIDR range (like 10.0.0.0/8) or one of loopback, private, link-local, none")]
    [Arguments("10.0.0.0/33", null, "OUTBOUND_DENY: \"10.0.0.0/33\" has a prefix length that is not a number from 0 to 32; expected a CIDR range (like 10.0.0.0/8) or one of loopback, private, link-local, none")]
    [Arguments("fc00::/129", null, "OUTBOUND_DENY: \"fc00::/129\" has a prefix length that is not a number from 0 to 128; expected a CIDR range (like 10.0.0.0/8) or one of loopback, private, link-local, none")]
    [Arguments("10.0.0.0/-1", null, "OUTBOUND_DENY: \"10.0.0.0/-1\" has a prefix length that is not a number from 0 to 32; expected a CIDR range (like 10.0.0.0/8) or one of loopback, private, link-local, none")]
    [Arguments("none,private", null, "OUTBOUND_DENY: \"none\" cannot be combined with other entries")]
    [Arguments("private", "loopback", "OUTBOUND_ALLOW: \"loopback\" is not an IPv4 or IPv6 address; expected a CIDR range (like 192.168.1.20/32)")]
    [Arguments("private", "192.168.1.300/32", "OUTBOUND_ALLOW: \"192.168.1.300/32\" is not an IPv4 or IPv6 address; expected a CIDR range (like 192.168.1.20/32)")]
    public async Task Parse_errors_name_the_variable_and_the_entry(string deny, string? allow, string expected)
    {
        await Assert.That(OutboundPolicy.Parse(deny, allow, OwnEndpoints.None, out var error)).IsNull();
        await Assert.That(error).IsEqualTo(expected);
    }

    [Test]
    public async Task Too_many_entries_is_an_error()
    {
        var deny = string.Join(',', Enumerable.Range(0, OutboundPolicy.EntriesMax + 1).Select(i => $"10.{i / 256}.{i % 256}.0/24"));
        await Assert.That(OutboundPolicy.Parse(deny, null, OwnEndpoints.None, out var error)).IsNull();
        await Assert.That(error).IsEqualTo($"OUTBOUND_DENY: {OutboundPolicy.EntriesMax + 1} entries; at most {OutboundPolicy.EntriesMax}");
    }

    [Test]
    public async Task The_own_port_is_denied_on_every_local_address_even_when_allowed()
    {
        var own = new OwnEndpoints([IPAddress.Parse("192.0.2.10"), IPAddress.Parse("fe80::10%2")], [7100]);
        var policy = Policy("none", "0.0.0.0/0, ::/0", own);
        foreach (var local in new[] { "127.0.0.1", "127.0.0.2", "::1", "0.0.0.0", "::", "192.0.2.10", "::ffff:192.0.2.10", "fe80::10", "::ffff:127.0.0.1" })
            await Assert.That(policy.Check(IPAddress.Parse(local), 7100)).StartsWith("blocked by OUTBOUND_DENY: ");
        await Assert.That(policy.Check(IPAddress.Parse("127.0.0.1"), 7100)).IsEqualTo("blocked by OUTBOUND_DENY: 127.0.0.1:7100 is Ksana's own listening port");
        await Assert.That(policy.Check(IPAddress.Parse("::1"), 7100)).IsEqualTo("blocked by OUTBOUND_DENY: [::1]:7100 is Ksana's own listening port");
        await Assert.That(policy.Check(IPAddress.Parse("127.0.0.1"), 7101)).IsNull();
        await Assert.That(policy.Check(IPAddress.Parse("192.0.2.11"), 7100)).IsNull();
    }

    [Test]
    public async Task Discover_finds_the_loopback_interface()
    {
        var own = OwnEndpoints.Discover([7100]);
        await Assert.That(own.Addresses).Contains(IPAddress.Loopback);
        await Assert.That(own.Ports).Contains(7100);
    }

    [Test]
    [Arguments("http://169.254.169.254/latest/meta-data", "169.254.169.254")]
    [Arguments("http://2852039166/", "169.254.169.254")]
    [Arguments("http://0xA9FEA9FE/", "169.254.169.254")]
    [Arguments("http://0251.0376.0251.0376/", "169.254.169.254")]
    [Arguments("http://0xA9.0xFE.0xA9.0xFE/", "169.254.169.254")]
    [Arguments("http://[::ffff:169.254.169.254]/", "169.254.169.254")]
    [Arguments("http://[::ffff:a9fe:a9fe]/", "169.254.169.254")]
    [Arguments("http://169.254.169.254./", "169.254.169.254")]
    [Arguments("http://[fe80::1%25eth0]:8080/", "fe80::1")]
    [Arguments("http://[fd00:ec2::254]/", "fd00:ec2::254")]
    [Arguments("http://0x7f000001/", "127.0.0.1")]
    [Arguments("http://127.1/", "127.0.0.1")]
    public async Task Literal_hosts_in_a_denied_range_are_refused_at_create_time(string url, string address)
    {
        var policy = Policy("link-local,loopback");
        await Assert.That(policy.CheckUrl(new Uri(url))).IsEqualTo($"cannot be called: blocked by OUTBOUND_DENY: {address}");
    }

    [Test]
    [Arguments("http://example.com/")]
    [Arguments("http://localhost:8080/")]
    [Arguments("http://8.8.8.8/")]
    [Arguments("http://[2001:db8::1]/")]
    [Arguments("http://169.254.169.254.example.com/")]
    public async Task Names_and_allowed_literals_pass_the_create_time_check(string url)
    {
        await Assert.That(Policy("link-local,loopback").CheckUrl(new Uri(url))).IsNull();
    }

    [Test]
    public async Task The_own_port_is_refused_at_create_time_when_spelled_literally()
    {
        var policy = Policy("none", own: new OwnEndpoints([], [7100]));
        await Assert.That(policy.CheckUrl(new Uri("http://127.0.0.1:7100/jobs"))).IsEqualTo("cannot be called: blocked by OUTBOUND_DENY: 127.0.0.1:7100 is Ksana's own listening port");
        await Assert.That(policy.CheckUrl(new Uri("http://127.0.0.1:7101/jobs"))).IsNull();
    }
}
