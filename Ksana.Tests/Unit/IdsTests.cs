using Ksana.Wire;

namespace Ksana.Tests.Unit;

public class IdsTests
{
    [Test]
    public async Task Ids_are_version_4_uuids_and_do_not_repeat_across_refills_and_threads()
    {
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<Guid, byte>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 25_000; i++) seen.TryAdd(Ids.New(), 0);
        })));
        await Assert.That(seen.Count).IsEqualTo(100_000);
        foreach (var id in seen.Keys.Take(1000))
        {
            var text = id.ToString("D");
            await Assert.That(text[14]).IsEqualTo('4');
            await Assert.That("89ab").Contains(text[19]);
        }
    }
}
