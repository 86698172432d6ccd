using System.Net;
using Ksana.Cluster;
using Ksana.Hosting;
using Ksana.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Ksana.Tests.Integration;

/// <summary>The PostgreSQL side of cluster mode (SPEC §12), against a real server: schema, claims, the change log.</summary>
[NotInParallel("cluster")]
public sealed class ClusterStorageTests
{
    [Test]
    public async Task Nodes_starting_together_migrate_the_schema_once()
    {
        var url = await (await Postgres.Shared).CreateDatabaseAsync();
        await using var db = ClusterStore.Connect(url);
        var found = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => Schema.MigrateAsync(db))));
        await Assert.That(found.Count(v => v == 0)).IsEqualTo(1);
        await Assert.That(found.Count(v => v == Schema.Latest)).IsEqualTo(5);
        var versions = await Postgres.QueryAsync(url, "SELECT version FROM ksana_schema");
        await Assert.That(versions.Count).IsEqualTo(1);
        await Assert.That(Convert.ToInt32(versions[0])).IsEqualTo(Schema.Latest);
        var partitions = await Postgres.QueryAsync(url, "SELECT count(*) FROM ksana_leases");
        await Assert.That(Convert.ToInt32(partitions[0])).IsEqualTo(Schema.Partitions);
    }

    [Test]
    public async Task A_write_batch_commits_whole_or_not_at_all()
    {
        // PgChangeLog sends each batch as one NpgsqlBatch without BEGIN: it relies on the batch
        // being one implicit transaction, so a failing statement undoes the ones before it.
        var url = await (await Postgres.Shared).CreateDatabaseAsync();
        await using var db = ClusterStore.Connect(url);
        await Schema.MigrateAsync(db);
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO ksana_jobs (id, part, doc) VALUES (gen_random_uuid(), 0, 'x')"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("UPDATE ksana_clock SET seq = seq + 1 WHERE id = 1"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO ksana_leases (part, expires_at) VALUES (0, now())")); // duplicate key
        await Assert.That(async () => await batch.ExecuteNonQueryAsync()).Throws<PostgresException>();
        await Assert.That(Convert.ToInt64((await Postgres.QueryAsync(url, "SELECT count(*) FROM ksana_jobs"))[0])).IsEqualTo(0);
        await Assert.That(Convert.ToInt64((await Postgres.QueryAsync(url, "SELECT seq FROM ksana_clock"))[0])).IsEqualTo(0);
    }

    [Test]
    public async Task A_slot_is_claimed_once_a_busy_job_is_refused_and_only_the_lease_holder_claims_fenced_runs()
    {
        var url = await (await Postgres.Shared).CreateDatabaseAsync();
        await using var db = ClusterStore.Connect(url);
        await Schema.MigrateAsync(db);
        var job = Guid.NewGuid();
        var part = Schema.PartOf(job);
        async Task<int> Claim(string slot, string node, bool fenced)
        {
            await using var cmd = db.CreateCommand("SELECT ksana_claim($1, $2, $3, $4, $5, $6, 'schedule', 0)");
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = job });
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = slot });
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = Guid.NewGuid() });
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = node });
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = part });
            cmd.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = fenced });
            return Convert.ToInt32(await cmd.ExecuteScalarAsync());
        }
        await Assert.That(await Claim("1000", "a", fenced: true)).IsEqualTo(1); // nobody holds the lease
        await using (var lease = db.CreateCommand($"UPDATE ksana_leases SET node = 'a', expires_at = now() + interval '10 s' WHERE part = {part}"))
            await lease.ExecuteNonQueryAsync();
        await Assert.That(await Claim("1000", "b", fenced: true)).IsEqualTo(1); // b does not hold it
        await Assert.That(await Claim("1000", "a", fenced: true)).IsEqualTo(0);
        await Assert.That(await Claim("2000", "b", fenced: false)).IsEqualTo(3); // a's run is in flight: no overlap
        await Assert.That(await Claim("1000", "a", fenced: true)).IsEqualTo(2); // fired already
        await Assert.That(await Claim("2000", "a", fenced: true)).IsEqualTo(0); // a's own row, its run ended here
        await using (var expire = db.CreateCommand($"UPDATE ksana_leases SET expires_at = now() - interval '1 s' WHERE part = {part}"))
            await expire.ExecuteNonQueryAsync();
        await Assert.That(await Claim("3000", "a", fenced: true)).IsEqualTo(1); // an expired lease fences its old holder out
    }

    [Test]
    public async Task What_one_node_writes_another_node_reads_and_a_restart_loads()
    {
        var url = await (await Postgres.Shared).CreateDatabaseAsync();
        var keys = "storage-key\n";
        Func<Settings, Settings> Node(string name) => s => s with { DatabaseUrl = url, NodeName = name, LeaseTtl = Duration.FromSeconds(2) };
        await using var a = await KsanaServer.StartAsync(Node("a"), keysFileContent: keys);
        await using var b = await KsanaServer.StartAsync(Node("b"), keysFileContent: keys);
        using var apiA = new KsanaApi(a.Address, "storage-key");
        using var apiB = new KsanaApi(b.Address, "storage-key");

        var created = await apiA.CreateJobAsync(JobDocs.Hourly("shared"));
        var id = created["id"]!.GetValue<string>();
        await Poll.Until(async () => (await apiB.Client.GetAsync($"/jobs/{id}")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(3));
        var patched = await apiB.PatchAsync($"/jobs/{id}", "{\"name\":\"renamed\"}");
        await Assert.That(patched.StatusCode).IsEqualTo(HttpStatusCode.OK);
        await Poll.Until(async () => (await apiA.GetJobAsync(id))["name"]!.GetValue<string>() == "renamed", TimeSpan.FromSeconds(3));

        // Idempotency-Key answers are shared: a retry on the other node gets the same job.
        using var first = new HttpRequestMessage(HttpMethod.Post, "/jobs") { Content = KsanaApi.Json(JobDocs.Hourly("once-only")) };
        first.Headers.Add("Idempotency-Key", "k-1");
        var one = await apiA.Client.SendAsync(first);
        await Assert.That(one.StatusCode).IsEqualTo(HttpStatusCode.Created);
        await Task.Delay(1000);
        using var retry = new HttpRequestMessage(HttpMethod.Post, "/jobs") { Content = KsanaApi.Json(JobDocs.Hourly("once-only")) };
        retry.Headers.Add("Idempotency-Key", "k-1");
        var two = await apiB.Client.SendAsync(retry);
        await Assert.That(two.Headers.Location).IsEqualTo(one.Headers.Location);

        var deleted = await apiA.Client.DeleteAsync($"/jobs/{id}");
        await Assert.That(deleted.IsSuccessStatusCode).IsTrue();
        await Poll.Until(async () => (await apiB.Client.GetAsync($"/jobs/{id}")).StatusCode == HttpStatusCode.NotFound, TimeSpan.FromSeconds(3));

        // A node started later loads everything from the database.
        await using var c = await KsanaServer.StartAsync(Node("c"), keysFileContent: keys);
        using var apiC = new KsanaApi(c.Address, "storage-key");
        var names = (await apiC.ListAllJobsAsync()).Select(j => j["name"]!.GetValue<string>()).ToArray();
        await Assert.That(names).IsEquivalentTo(new[] { "once-only" });
        // A node is listed from its first heartbeat, which its start does not wait for.
        string[] cluster = [];
        await Poll.Until(async () =>
        {
            cluster = (await apiC.GetJsonAsync("/cluster"))["nodes"]!.AsArray().Select(n => n!["name"]!.GetValue<string>()).ToArray();
            return cluster.Length == 3;
        }, TimeSpan.FromSeconds(3));
        await Assert.That(cluster).IsEquivalentTo(new[] { "a", "b", "c" });
    }

    [Test]
    public async Task Run_now_goes_through_the_claim_so_runs_of_a_job_never_overlap_across_nodes()
    {
        var url = await (await Postgres.Shared).CreateDatabaseAsync();
        await using var callee = await Callee.StartAsync();
        callee.Always("/slow", Reply.Slow(TimeSpan.FromSeconds(2)));
        var keys = "claim-key\n";
        Func<Settings, Settings> Node(string name) => s => s with { DatabaseUrl = url, NodeName = name, LeaseTtl = Duration.FromSeconds(2) };
        await using var a = await KsanaServer.StartAsync(Node("a"), keysFileContent: keys);
        await using var b = await KsanaServer.StartAsync(Node("b"), keysFileContent: keys);
        using var apiA = new KsanaApi(a.Address, "claim-key");
        using var apiB = new KsanaApi(b.Address, "claim-key");
        var id = (await apiA.CreateJobAsync(JobDocs.Calling(callee.Url("/slow"), timeout: "5s")))["id"]!.GetValue<string>();
        await Poll.Until(async () => (await apiB.Client.GetAsync($"/jobs/{id}")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(3));

        var first = await apiA.PostEmptyAsync($"/jobs/{id}/run-now");
        await Assert.That(first.StatusCode).IsEqualTo(HttpStatusCode.Accepted);
        var second = await apiB.PostEmptyAsync($"/jobs/{id}/run-now");
        await Assert.That(second.StatusCode).IsEqualTo(HttpStatusCode.Conflict);
        await Assert.That(await second.Content.ReadAsStringAsync()).Contains("in flight on another node");

        // Once it has ended, the other node may run it.
        await callee.WaitForAsync("/slow", 1, TimeSpan.FromSeconds(5));
        await Poll.Until(async () => (await apiB.PostEmptyAsync($"/jobs/{id}/run-now")).StatusCode == HttpStatusCode.Accepted, TimeSpan.FromSeconds(6));
        var claims = await Postgres.QueryAsync(url, $"SELECT node FROM ksana_claims WHERE job_id = '{id}' ORDER BY claimed_at");
        await Assert.That(claims.Cast<string>().ToArray()).IsEquivalentTo(new[] { "a", "b" });
    }

    [Test]
    public async Task A_takeover_that_stalls_or_fails_holds_up_no_lease_renewal_and_is_tried_again()
    {
        var url = await (await Postgres.Shared).CreateDatabaseAsync();
        var keys = "takeover-key\n";
        var ttl = TimeSpan.FromSeconds(2);
        Func<Settings, Settings> Node(string name) => s => s with { DatabaseUrl = url, NodeName = name, LeaseTtl = Duration.FromSeconds(2) };
        string id;
        await using (var a = await KsanaServer.StartAsync(Node("a"), keysFileContent: keys))
        {
            using var apiA = new KsanaApi(a.Address, "takeover-key");
            id = JobDocs.Id(await apiA.CreateJobAsync(JobDocs.Hourly("taken")));
        } // a stops cleanly and gives its partitions back: b takes them in its first round

        // b's first takeover hangs until released, then fails as a write refused by the database would.
        var calls = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var repaired = new TaskCompletionSource<IReadOnlyList<JobEntry>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var b = await KsanaServer.StartAsync(Node("b"), keysFileContent: keys, beforeStart: app =>
        {
            var node = app.Services.GetRequiredService<ClusterNode>();
            var inner = node.TakeOver!;
            node.TakeOver = async entries =>
            {
                if (Interlocked.Increment(ref calls) == 1)
                {
                    await release.Task;
                    throw new ChangeLogUnavailableException("the change log could not be written (test)");
                }
                await inner(entries);
                repaired.TrySetResult(entries);
            };
        });
        var nodeB = b.Services.GetRequiredService<ClusterNode>();
        var job = Guid.Parse(id);
        await Assert.That(await Poll.Until(() => Volatile.Read(ref calls) == 1, TimeSpan.FromSeconds(5))).IsTrue();

        // Two lease times with the takeover stuck: the leases were renewed all along.
        await Task.Delay(2 * ttl);
        await Assert.That(nodeB.Renewing).IsFalse();
        await Assert.That(nodeB.Owns(job)).IsTrue();

        // It fails: the lease loop lives on, and the takeover is tried again and done.
        release.SetResult();
        var done = await repaired.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await Assert.That(done.Select(e => e.Job.Id).ToArray()).IsEquivalentTo(new[] { job });
        await Task.Delay(2 * ttl);
        await Assert.That(nodeB.Renewing).IsFalse();
        await Assert.That(nodeB.Owns(job)).IsTrue();
    }

    [Test]
    public async Task On_a_single_box_the_cluster_is_this_process()
    {
        await using var server = await KsanaServer.StartAsync(s => s with { NodeName = "solo" });
        await server.CreateJobAsync(JobDocs.Hourly());
        var nodes = (await server.GetJsonAsync("/cluster"))["nodes"]!.AsArray();
        await Assert.That(nodes.Count).IsEqualTo(1);
        await Assert.That(nodes[0]!["name"]!.GetValue<string>()).IsEqualTo("solo");
        await Assert.That(nodes[0]!["jobs"]!.GetValue<long>()).IsEqualTo(1);
        await Assert.That(nodes[0]!["last_seen_at"]!.GetValue<string>()).EndsWith("Z");
    }
}
