using Ksana.Scheduling;

namespace Ksana.Tests.Unit;

/// <summary>HOST_CONCURRENCY's slots: a cap per (scheme, host, port), other hosts untouched, nothing kept once idle.</summary>
public sealed class HostSlotsTests
{
    [Test]
    [Arguments("http://a.example/x", "http://a.example:80/y?q", true)]
    [Arguments("http://user:pw@A.Example/x", "http://a.example/", true)]
    [Arguments("http://a.example/", "https://a.example/", false)]
    [Arguments("http://a.example:8080/", "http://a.example/", false)]
    [Arguments("http://a.example/", "http://b.example/", false)]
    public async Task A_host_is_its_scheme_host_and_port(string one, string other, bool same) =>
        await Assert.That(HostSlots.KeyOf(one) == HostSlots.KeyOf(other)).IsEqualTo(same);

    [Test]
    public async Task Over_the_cap_waits_for_its_host_only_and_idle_hosts_are_forgotten()
    {
        var slots = new HostSlots(2);
        var a1 = await slots.AcquireAsync("a", CancellationToken.None);
        var a2 = await slots.AcquireAsync("a", CancellationToken.None);
        var a3 = slots.AcquireAsync("a", CancellationToken.None);
        var b1 = slots.AcquireAsync("b", CancellationToken.None);

        await Assert.That(b1.IsCompletedSuccessfully).IsTrue();
        await Assert.That(a3.IsCompleted).IsFalse();
        a1.Dispose();
        a1.Dispose(); // a second dispose gives nothing back twice
        var third = await a3.WaitAsync(TimeSpan.FromSeconds(5));
        var a4 = slots.AcquireAsync("a", CancellationToken.None);
        await Assert.That(a4.IsCompleted).IsFalse();

        a2.Dispose();
        (await a4.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        third.Dispose();
        (await b1).Dispose();
        await Assert.That(slots.Count).IsEqualTo(0);
    }

    [Test]
    public async Task A_cancelled_wait_takes_no_slot_and_leaves_nothing_behind()
    {
        var slots = new HostSlots(1);
        var held = await slots.AcquireAsync("a", CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = slots.AcquireAsync("a", cancel.Token);
        cancel.Cancel();
        await Assert.That(async () => await waiting).Throws<OperationCanceledException>();
        held.Dispose();
        await Assert.That(slots.Count).IsEqualTo(0);
        (await slots.AcquireAsync("a", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
    }
}
