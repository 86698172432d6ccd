using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Ksana.Hosting;

namespace Ksana.Tests.EndToEnd;

/// <summary>
/// Cluster mode (SPEC §12), end to end: published ksana processes sharing one real PostgreSQL,
/// a real callee counting calls by (job, slot) and by the node that made them (its User-Agent).
/// </summary>
[NotInParallel("cluster")]
public sealed class ClusterTests
{
    const string Key = "cluster-key";
    const string Ttl = "4s";
    static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(4);

    /// <summary>Three (or <paramref name="count"/>) nodes on <paramref name="url"/>, with a short lease so failover is quick to see.</summary>
    static async Task<List<KsanaProcess>> StartNodesAsync(TempDir dir, string url, int count = 3, string prefix = "node", int? runsKept = null)
    {
        var keys = Path.Combine(dir.Path, "keys");
        if (!File.Exists(keys)) await File.WriteAllTextAsync(keys, Key + "\n");
        var nodes = new List<KsanaProcess>();
        for (var i = 1; i <= count; i++)
        {
            var env = Env(url, $"{prefix}{i}");
            if (runsKept is { } kept) env["RUNS_KEPT"] = kept.ToString(System.Globalization.CultureInfo.InvariantCulture);
            nodes.Add(await KsanaProcess.StartAsync(KsanaProcess.FreePort(), Path.Combine(dir.Path, $"{prefix}{i}"), keys, env));
        }
        // Every node has joined and the partitions have been shared out (a few lease rounds).
        using var api = nodes[0].Api(Key);
        await Poll.Until(async () => (await api.GetJsonAsync("/cluster"))["nodes"]!.AsArray().Count == count, TimeSpan.FromSeconds(20));
        await Task.Delay(LeaseTtl);
        return nodes;
    }

    static Dictionary<string, string> Env(string url, string name) => new()
    {
        ["DATABASE_URL"] = url,
        ["NODE_NAME"] = name,
        ["LEASE_TTL"] = Ttl,
        ["WORKERS"] = "64",
        // "Cluster: took N partitions" and the like, for a failing test's message (see Said).
        ["LOG_LEVEL"] = "Information",
    };

    static JsonObject EveryJob(string name, string url, string? catchUp = null)
    {
        var job = JobDocs.Every(name, url, "1s");
        if (catchUp is not null) job["schedule"]!["catch_up"] = catchUp;
        return job;
    }

    static async Task<List<string>> CreateAsync(IReadOnlyList<KsanaProcess> nodes, int count, Func<int, JsonObject> job)
    {
        var ids = new string[count];
        var apis = nodes.Select(n => n.Api(Key)).ToArray();
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
                ids[i] = (await apis[i % apis.Length].CreateJobAsync(job(i)))["id"]!.GetValue<string>());
        }
        finally
        {
            foreach (var api in apis) api.Dispose();
        }
        return [.. ids];
    }

    static string NodeOf(Recorded call)
    {
        var ua = call.Header("User-Agent");
        var at = ua.IndexOf("(node ", StringComparison.Ordinal);
        return at < 0 ? "" : ua[(at + 6)..].TrimEnd(')');
    }

    static DateTimeOffset SlotOf(Recorded call) =>
        DateTimeOffset.Parse(JsonNode.Parse(call.Body)!["scheduled_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);

    static string[] Duplicates(IEnumerable<Recorded> calls) =>
        calls.GroupBy(c => (c.JobId, Slot: SlotOf(c))).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key.JobId} {Rfc3339.Format(g.Key.Slot)} ×{g.Count()} by {string.Join(",", g.Select(NodeOf))}").ToArray();

    /// <summary>What each node logged above information (a failing test shows it).</summary>
    static string Said(IEnumerable<KsanaProcess> nodes) => string.Join("\n", nodes.SelectMany((n, i) =>
        n.Stderr.Split('\n').Concat(n.Stdout.Split('\n'))
            .Where(l => l.Contains("warn", StringComparison.OrdinalIgnoreCase) || l.Contains("fail", StringComparison.OrdinalIgnoreCase) || l.Contains("Cluster:", StringComparison.Ordinal) || l.Contains("not fired", StringComparison.Ordinal))
            .TakeLast(40).Select(l => $"node{i + 1}: {l}")));

    /// <summary>The slots a record of skipped slots of a job every 1 s stands for: its scheduled_at, and for a series the seconds up to its last.</summary>
    static IEnumerable<DateTimeOffset> SkippedSlots(JsonObject run)
    {
        var first = DateTimeOffset.Parse(run["scheduled_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        // The record's text says the series: read it as Ksana reads it back from its journal.
        var last = Ksana.Scheduling.SkipSeries.Parse(run["error"]?.GetValue<string>() ?? "", first)?.Last ?? first;
        for (var slot = first; slot <= last; slot = slot.AddSeconds(1)) yield return slot;
    }

    [Test]
    public async Task Jobs_are_shared_over_three_nodes_and_each_slot_fires_once()
    {
        var pg = await Postgres.Shared;
        var url = await pg.CreateDatabaseAsync();
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        // Each job's whole window in its history, so that a skipped slot can be found there.
        var nodes = await StartNodesAsync(dir, url, runsKept: 100);
        try
        {
            var ids = await CreateAsync(nodes, 300, i => EveryJob($"shared-{i}", callee.Url("/c")));

            // A job created on any node is visible on every node.
            foreach (var node in nodes)
            {
                using var api = node.Api(Key);
                foreach (var id in new[] { ids[0], ids[1], ids[2] })
                    await Poll.Until(async () => (await api.Client.GetAsync($"/jobs/{id}")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(3));
            }

            var from = DateTimeOffset.UtcNow.AddSeconds(3);
            var to = from.AddSeconds(60);
            await Task.Delay(to - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(3));

            var calls = callee.RequestsTo("/c");
            await Assert.That(Duplicates(calls)).IsEmpty();
            var inWindow = calls.Where(c => SlotOf(c) >= from && SlotOf(c) < to).ToArray();
            var silent = ids.Except(inWindow.Select(c => c.JobId)).ToArray();
            await Assert.That(silent).IsEmpty().Because("every job fires in the window");

            // Every slot of the window on each job's grid (a slot each second) fired, or was skipped
            // behind the job's run in flight and recorded so (SPEC §2): a run that outlives a second,
            // its claim or its record waiting on a busy PostgreSQL say, makes the next slot a skip.
            var missing = new List<(string Job, DateTimeOffset Slot, string Around)>();
            foreach (var group in inWindow.GroupBy(c => c.JobId))
            {
                var fired = group.OrderBy(SlotOf).ToArray();
                var slots = fired.Select(SlotOf).ToArray();
                var first = slots[0];
                while (first.AddSeconds(-1) >= from) first = first.AddSeconds(-1);
                for (var slot = first; slot < to; slot = slot.AddSeconds(1))
                {
                    if (Array.BinarySearch(slots, slot) >= 0) continue;
                    // Where it fell: the node that fired the job's slot before it and the one after.
                    var after = Array.FindIndex(slots, x => x > slot);
                    missing.Add((group.Key, slot, $"{(after > 0 ? NodeOf(fired[after - 1]) : "-")}→{(after >= 0 ? NodeOf(fired[after]) : "-")}"));
                }
            }
            var skipped = new HashSet<(string, DateTimeOffset)>();
            using (var api = nodes[0].Api(Key))
                foreach (var job in missing.Select(m => m.Job).Distinct())
                    foreach (var run in await api.RunsAsync(job))
                        if (run!["status"]!.GetValue<string>() == "skipped")
                            foreach (var slot in SkippedSlots(run.AsObject())) skipped.Add((job, slot));
            var lost = missing.Where(m => !skipped.Contains((m.Job, m.Slot))).ToArray();
            var where = string.Join("; ", lost.GroupBy(m => $"{Rfc3339.Format(new DateTimeOffset(m.Slot.UtcTicks - m.Slot.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero))} {m.Around}")
                .OrderBy(g => g.Key).Select(g => $"{g.Key} ×{g.Count()}"));
            await Assert.That(lost.Select(m => $"{m.Job} {Rfc3339.Format(m.Slot)}")).IsEmpty()
                .Because($"{lost.Length} lost slots (second, node before → node after: {where}); the nodes said:\n{Said(nodes)}");
            // Skips are for a stall, not a way of working: nine slots in ten at least fire.
            var recorded = missing.Count - lost.Length;
            await Assert.That(recorded).IsLessThan(300 * 60 / 10).Because($"{recorded} slots skipped; the nodes said:\n{Said(nodes)}");
            await Assert.That(inWindow.Length).IsEqualTo(300 * 60 - recorded);

            var byNode = inWindow.GroupBy(NodeOf).ToDictionary(g => g.Key, g => g.Count() / (double)inWindow.Length);
            var shares = string.Join(", ", byNode.Select(kv => $"{kv.Key} {kv.Value:P1}"));
            await Assert.That(byNode.Count).IsEqualTo(3).Because(shares);
            foreach (var share in byNode.Values) await Assert.That(share).IsBetween(0.20, 0.45).Because(shares);

            // Runs are recorded where anyone can read them: the runs of a job, on every node.
            foreach (var node in nodes)
            {
                using var api = node.Api(Key);
                await Assert.That((await api.RunsAsync(ids[7])).Count).IsGreaterThan(10);
            }
            using (var api = nodes[1].Api(Key))
            {
                var cluster = (await api.GetJsonAsync("/cluster"))["nodes"]!.AsArray();
                await Assert.That(cluster.Sum(n => n!["jobs"]!.GetValue<long>())).IsEqualTo(300);
            }
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    [Test]
    public async Task Kill_9_of_a_node_moves_its_jobs_within_the_lease_and_its_runs_in_flight_are_interrupted()
    {
        var pg = await Postgres.Shared;
        var url = await pg.CreateDatabaseAsync();
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        callee.Always("/slow", Reply.Slow(TimeSpan.FromSeconds(3)));
        var nodes = await StartNodesAsync(dir, url);
        try
        {
            // catch_up: the slot that falls due while the dead node's lease runs out fires when the job is taken over.
            var quick = await CreateAsync(nodes, 90, i => EveryJob($"quick-{i}", callee.Url("/c"), catchUp: "10s"));
            var slow = await CreateAsync(nodes, 30, i => EveryJob($"slow-{i}", callee.Url("/slow")));
            await Task.Delay(TimeSpan.FromSeconds(6));

            var victim = nodes[2];
            var victimName = "node3";
            var killedAt = DateTimeOffset.UtcNow;
            victim.Kill9();
            await victim.WaitExitAsync(TimeSpan.FromSeconds(5));
            var diedAt = DateTimeOffset.UtcNow;
            await Task.Delay(LeaseTtl + TimeSpan.FromSeconds(6));

            var calls = callee.RequestsTo("/c");
            await Assert.That(Duplicates(calls.Concat(callee.RequestsTo("/slow")))).IsEmpty();
            // The victim may still send in the instant between the signal and its exit; never after
            // (a second's margin for a request it wrote just before dying that the callee reads late).
            await Assert.That(calls.Where(c => NodeOf(c) == victimName && c.ArrivedAt > diedAt.AddSeconds(1)).Select(c => c.JobId)).IsEmpty();

            // Each job the dead node fired fires again from another node within LEASE_TTL + 1 s of the kill.
            var orphaned = calls.Where(c => NodeOf(c) == victimName).Select(c => c.JobId).ToHashSet();
            await Assert.That(orphaned.Count).IsGreaterThan(10);
            var late = new List<string>();
            foreach (var job in orphaned)
            {
                var next = calls.Where(c => c.JobId == job && c.ArrivedAt > killedAt && NodeOf(c) != victimName).OrderBy(c => c.ArrivedAt).FirstOrDefault();
                if (next is null || next.ArrivedAt - killedAt > LeaseTtl + TimeSpan.FromSeconds(1))
                    late.Add($"{job}: {(next is null ? "never" : $"{(next.ArrivedAt - killedAt).TotalMilliseconds:F0} ms after the kill, by {NodeOf(next)}")}");
            }
            await Assert.That(late).IsEmpty().Because($"{late.Count} of {orphaned.Count} jobs were not taken over in time");

            // The runs the dead node had in flight (the callee saw their connection cut) are recorded as interrupted.
            var cut = callee.RequestsTo("/slow").Where(c => NodeOf(c) == victimName && c.Aborted).ToArray();
            await Assert.That(cut.Length).IsGreaterThan(0);
            using var api = nodes[0].Api(Key);
            foreach (var call in cut)
                await Poll.Until(async () =>
                {
                    var run = (await api.RunsAsync(call.JobId)).FirstOrDefault(r => r!["run_id"]!.GetValue<string>() == call.RunId);
                    return run?["status"]?.GetValue<string>() == "failed" && run["error"]!.GetValue<string>().Contains("interrupted");
                }, TimeSpan.FromSeconds(5));
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    [Test]
    public async Task Nodes_whose_clocks_are_30_s_apart_never_fire_a_slot_twice()
    {
        var pg = await Postgres.Shared;
        var url = await pg.CreateDatabaseAsync();
        await using var callee = await Callee.StartAsync();
        var keys = $"{Key}\n";
        Func<Settings, Settings> Node(string name) => s => s with { DatabaseUrl = url, NodeName = name, LeaseTtl = Duration.FromSeconds(2) };
        var servers = new List<KsanaServer>
        {
            await KsanaServer.StartAsync(Node("on-time"), keysFileContent: keys),
            await KsanaServer.StartAsync(Node("ahead"), keysFileContent: keys, time: new SkewedClock(TimeSpan.FromSeconds(30))),
            await KsanaServer.StartAsync(Node("behind"), keysFileContent: keys, time: new SkewedClock(TimeSpan.FromSeconds(-30))),
        };
        try
        {
            using (var api = new KsanaApi(servers[0].Address, Key))
                for (var i = 0; i < 40; i++) await api.CreateJobAsync(EveryJob($"skew-{i}", callee.Url("/c"), catchUp: "1m"));
            // Ownership moves while the clocks disagree by a minute: the on-time node leaves, then
            // comes back and takes jobs from the node that is 30 s ahead, whose slots it reaches 30 s
            // after that node fired them. Only the claims stand between them and a double fire.
            await Task.Delay(TimeSpan.FromSeconds(12));
            await servers[0].StopAsync();
            await Task.Delay(TimeSpan.FromSeconds(12));
            servers[0] = await servers[0].RestartAsync();
            await Task.Delay(TimeSpan.FromSeconds(18));

            var calls = callee.RequestsTo("/c");
            await Assert.That(calls.Count).IsGreaterThan(400);
            await Assert.That(Duplicates(calls)).IsEmpty();
            await Assert.That(calls.Select(c => c.RunId).Distinct().Count()).IsEqualTo(calls.Count);
            var byNode = calls.GroupBy(NodeOf).ToDictionary(g => g.Key, g => g.Count());
            await Assert.That(byNode.GetValueOrDefault("ahead")).IsGreaterThan(0);
            await Assert.That(byNode.GetValueOrDefault("on-time")).IsGreaterThan(0);
        }
        finally
        {
            foreach (var server in servers) await server.DisposeAsync();
        }
    }

    [Test]
    public async Task A_database_outage_answers_503_fires_nothing_twice_and_heals_by_itself()
    {
        // Its own server: this test stops it.
        await using var pg = await Postgres.StartAsync();
        var url = await pg.CreateDatabaseAsync();
        using var dir = new TempDir();
        await using var callee = await Callee.StartAsync();
        var nodes = await StartNodesAsync(dir, url, count: 2);
        try
        {
            await CreateAsync(nodes, 40, i => EveryJob($"outage-{i}", callee.Url("/c")));
            await Task.Delay(TimeSpan.FromSeconds(3));

            await pg.StopAsync();
            var down = DateTimeOffset.UtcNow;
            var answers = new List<HttpStatusCode>();
            using (var api = nodes[0].Api(Key))
            using (var other = nodes[1].Api(Key))
            {
                while (DateTimeOffset.UtcNow - down < TimeSpan.FromSeconds(5))
                {
                    answers.Add((await api.PostAsync("/jobs", JobDocs.Hourly("during"))).StatusCode);
                    answers.Add((await other.PostAsync("/jobs", JobDocs.Hourly("during"))).StatusCode);
                    await Task.Delay(500);
                }
                await Assert.That(answers.Distinct().ToArray()).IsEquivalentTo(new[] { HttpStatusCode.ServiceUnavailable });
                // Reads are served from each node's copy meanwhile.
                await Assert.That((await api.Client.GetAsync("/jobs")).StatusCode).IsEqualTo(HttpStatusCode.OK);
                var firedDuringOutage = callee.RequestsTo("/c").Count(c => c.ArrivedAt > down.AddSeconds(LeaseTtl.TotalSeconds));

                await pg.StartAgainAsync();
                var up = DateTimeOffset.UtcNow;
                foreach (var node in new[] { api, other })
                    await Poll.Until(async () => (await node.PostAsync("/jobs", JobDocs.Hourly("after"))).StatusCode == HttpStatusCode.Created,
                        TimeSpan.FromSeconds(20));
                await Task.Delay(TimeSpan.FromSeconds(4));
                var calls = callee.RequestsTo("/c");
                await Assert.That(firedDuringOutage).IsEqualTo(0).Because("a node that cannot prove it owns a job stops firing it");
                await Assert.That(calls.Count(c => c.ArrivedAt > up.AddSeconds(2))).IsGreaterThan(40).Because("firing resumes by itself");
                await Assert.That(Duplicates(calls)).IsEmpty();
            }
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    [Test]
    public async Task Migrate_copies_a_journal_of_10_000_jobs_and_their_runs_and_the_cluster_fires_them()
    {
        var pg = await Postgres.Shared;
        var url = await pg.CreateDatabaseAsync();
        using var dir = new TempDir();
        var keys = dir.WriteKeys(Key);
        await using var callee = await Callee.StartAsync();
        string[] firing;
        string[] runsBefore;
        await using (var single = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys))
        {
            firing = [.. await CreateAsync([single], 50, i => EveryJob($"firing-{i}", callee.Url("/before")))];
            await CreateAsync([single], 9_950, i => JobDocs.Hourly($"quiet-{i}"));
            await Task.Delay(TimeSpan.FromSeconds(3));
            using (var api = single.Api(Key))
                runsBefore = [.. (await api.RunsAsync(firing[0])).Select(r => r!["run_id"]!.GetValue<string>())];
            await single.StopAsync();
        }
        await Assert.That(runsBefore.Length).IsGreaterThan(1);

        var migrate = await KsanaProcess.RunToExitAsync(dir.Data, KsanaProcess.FreePort(), null, ["migrate", "--from", dir.Data, "--to", url],
            TimeSpan.FromSeconds(120));
        await Assert.That(migrate.ExitCode).IsEqualTo(0).Because(migrate.Stderr);
        await Assert.That(migrate.Stdout).Contains("copied 10000 jobs");
        // Into a database that holds jobs: refused, nothing copied twice.
        var again = await KsanaProcess.RunToExitAsync(dir.Data, KsanaProcess.FreePort(), null, ["migrate", "--from", dir.Data, "--to", url],
            TimeSpan.FromSeconds(60));
        await Assert.That(again.ExitCode).IsEqualTo(1);
        await Assert.That(again.Stderr).Contains("already holds jobs");
        var copied = (await Postgres.QueryAsync(url, $"SELECT run_id::text FROM ksana_runs WHERE job_id = '{firing[0]}'"))
            .Select(r => ((string)r!).Replace("-", "")).ToHashSet();
        await Assert.That(runsBefore.Where(id => !copied.Contains(id))).IsEmpty().Because("every run in the journal is in the database");

        var nodes = await StartNodesAsync(dir, url);
        try
        {
            using var api = nodes[1].Api(Key);
            await Assert.That((await api.ListAllJobsAsync()).Count).IsEqualTo(10_000);
            // The migrated jobs now fire from the cluster (their URL is unchanged: the calls arrive at /before).
            var since = DateTimeOffset.UtcNow;
            await Task.Delay(TimeSpan.FromSeconds(4));
            var after = callee.RequestsTo("/before").Where(c => c.ArrivedAt > since).ToArray();
            await Assert.That(after.Select(c => c.JobId).Distinct().Count()).IsEqualTo(50);
            await Assert.That(after.All(c => NodeOf(c).StartsWith("node", StringComparison.Ordinal))).IsTrue();
            await Assert.That(Duplicates(callee.RequestsTo("/before"))).IsEmpty();
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }
}

/// <summary>The real clock, shifted: a node whose wall clock is wrong (its monotonic clock is fine).</summary>
public sealed class SkewedClock(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}
