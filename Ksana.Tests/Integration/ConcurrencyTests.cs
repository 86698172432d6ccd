using System.Text.Json.Nodes;

namespace Ksana.Tests.Integration;

/// <summary>Many clients at once: every 201 is a whole job exactly as sent, and nothing is lost.</summary>
public sealed class ConcurrencyTests
{
    [Test]
    public async Task Concurrent_creates_of_large_bodies_store_each_job_exactly_as_sent()
    {
        await using var ksana = await KsanaServer.StartAsync();
        const int clients = 8, perClient = 25;

        async Task<List<(string Id, string Name, string Body)>> Client(int c)
        {
            var made = new List<(string, string, string)>();
            for (var i = 0; i < perClient; i++)
            {
                var name = $"c{c}-j{i}";
                // Distinct, recognisable bodies of 20–60 KB: larger than the server's first read buffer.
                var body = string.Concat(Enumerable.Repeat($"<{name}>", (20_000 + (c * perClient + i) * 160) / (name.Length + 2)));
                var job = JobDocs.Hourly(name);
                job["http"]!["body"] = body;
                var answer = await Answer.Of(ksana.PostAsync("/jobs", job));
                if (answer.Status != 201) throw new InvalidOperationException($"{name}: {answer}");
                var created = answer.Json!;
                if (created["name"]!.GetValue<string>() != name || created["http"]!["body"]!.GetValue<string>() != body)
                    throw new InvalidOperationException($"{name}: the 201 body is not the job that was sent");
                made.Add((created["id"]!.GetValue<string>(), name, body));
            }
            return made;
        }

        var all = (await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(() => Client(c))))).SelectMany(x => x).ToList();

        await Assert.That(all.Count).IsEqualTo(clients * perClient);
        var listed = (await ksana.GetJsonAsync("/jobs?limit=1000"))["jobs"]!.AsArray()
            .ToDictionary(j => j!["id"]!.GetValue<string>(), j => j!);
        await Assert.That(listed.Count).IsEqualTo(clients * perClient);
        foreach (var (id, name, body) in all)
        {
            await Assert.That(listed[id]["name"]!.GetValue<string>()).IsEqualTo(name);
            await Assert.That(listed[id]["http"]!["body"]!.GetValue<string>() == body).IsTrue().Because(name);
        }
    }
}
