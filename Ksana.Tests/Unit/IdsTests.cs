using Ksana.Wire;

namespace Ksana.Tests.Unit;

public class IdsTests
{
    [Test]
    public async Task Ids_are_version_7_uuids_and_do_not_repeat_across_refills_and_threads()
    {
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<Guid, byte>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 25_000; i++) seen.TryAdd(Ids.New(DateTimeOffset.UtcNow), 0);
        })));
        await Assert.That(seen.Count).IsEqualTo(100_000);
        foreach (var id in seen.Keys.Take(1000))
        {
            var text = id.ToString("D");
            await Assert.That(text[14]).IsEqualTo('7');
            await Assert.That("89ab").Contains(text[19]);
        }
    }

    [Test]
    public async Task Ids_made_one_after_another_sort_in_that_order_as_values_and_as_text_and_carry_the_clock_s_millisecond()
    {
        var now = DateTimeOffset.UtcNow;
        // Far more than one millisecond's 4096 counter values at one clock reading: the order holds through the carry.
        var ids = Enumerable.Range(0, 20_000).Select(_ => Ids.New(now)).ToArray();
        for (var i = 1; i < ids.Length; i++)
        {
            await Assert.That(ids[i - 1].CompareTo(ids[i])).IsLessThan(0);
            await Assert.That(string.CompareOrdinal(ids[i - 1].ToString("N"), ids[i].ToString("N"))).IsLessThan(0);
        }
        // The clock's millisecond, or a later one when ids were made ahead of it (the stamp never goes
        // back; tests on fake clocks in this process may have moved it on).
        var ms = Convert.ToInt64(ids[0].ToString("N")[..12], 16);
        await Assert.That(ms).IsGreaterThanOrEqualTo(now.ToUnixTimeMilliseconds());
    }
}
