using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ksana.Storage;
using Ksana.Tests.Support;

namespace Ksana.Tests.Integration;

/// <summary>
/// Delivery trust over real HTTP (SPEC §1, §5, §8, §10): signatures judged by the official
/// Standard Webhooks npm package, write-only secrets, Basic auth from the URL, where callbacks may
/// go, per-host caps, failed-auth throttling, and the modes of what Ksana writes to DATA_DIR.
/// </summary>
public sealed class TrustTests
{
    static string Id(JsonObject job) => job["id"]!.GetValue<string>();

    static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    static async Task<string> SigningFile(KsanaServerDir dir, params string[] secrets)
    {
        var path = Path.Combine(dir.Path, "signing");
        await File.WriteAllTextAsync(path, "# signing secrets\n" + string.Join('\n', secrets) + "\n");
        return path;
    }

    /// <summary>A temporary directory for files a server is started with (it gets its own for data).</summary>
    sealed class KsanaServerDir : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ksana-trust-" + Guid.NewGuid().ToString("N"));
        public KsanaServerDir() => Directory.CreateDirectory(Path);
        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }

    // ---- Signing (SPEC §8) --------------------------------------------------------------------

    [Test]
    public async Task Attempts_carry_standard_webhooks_headers_the_official_library_verifies()
    {
        using var dir = new KsanaServerDir();
        var secret = NewSecret();
        var file = await SigningFile(dir, secret);
        await using var callee = await NodeVerifierCallee.StartAsync(secret);
        await using var ksana = await KsanaServer.StartAsync(s => s with { SigningKeysFile = file });
        var doc = JobDocs.Calling(callee.Url("/signed"));
        doc["http"]!["body"] = "{\"run\":\"{{run_id}}\",\"attempt\":{{attempt}},\"text\":\"grüße\"}";
        var job = await ksana.CreateJobAsync(doc);

        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var runId = await ksana.RunNowAsync(Id(job));
        var run = await ksana.WaitForRunAsync(Id(job), runId);
        var after = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var request = (await callee.WaitForAsync(1))[0];
        await Assert.That(request.Verified).IsTrue().Because(request.Error ?? "");
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(request.Header("webhook-id")).IsEqualTo(runId);
        var timestamp = long.Parse(request.Header("webhook-timestamp"));
        await Assert.That(timestamp).IsBetween(before, after);
        await Assert.That(request.Header("webhook-signature")).StartsWith("v1,");
        await Assert.That(request.Header("webhook-signature")).DoesNotContain(" ");
        await Assert.That(request.Body).IsEqualTo($"{{\"run\":\"{runId}\",\"attempt\":1,\"text\":\"grüße\"}}");
    }

    [Test]
    public async Task Rotation_signs_with_every_secret_so_a_callee_that_knows_only_the_new_one_verifies()
    {
        using var dir = new KsanaServerDir();
        var (old, fresh) = (NewSecret(), NewSecret());
        var file = await SigningFile(dir, old, fresh);
        await using var callee = await NodeVerifierCallee.StartAsync(fresh);
        await using var ksana = await KsanaServer.StartAsync(s => s with { SigningKeysFile = file });
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/rotated")));

        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));

        var request = (await callee.WaitForAsync(1))[0];
        await Assert.That(request.Verified).IsTrue().Because(request.Error ?? "");
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(request.Header("webhook-signature").Split(' ').Length).IsEqualTo(2);
    }

    [Test]
    public async Task A_rewritten_signing_file_is_used_without_a_restart()
    {
        using var dir = new KsanaServerDir();
        var (first, second) = (NewSecret(), NewSecret());
        var file = await SigningFile(dir, first);
        await using var callee = await NodeVerifierCallee.StartAsync(second);
        await using var ksana = await KsanaServer.StartAsync(s => s with { SigningKeysFile = file });
        var job = await ksana.CreateJobAsync(JobDocs.Calling(callee.Url("/reload")));

        var refused = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));
        await Assert.That(refused["status"]!.GetValue<string>()).IsEqualTo("failed");
        await Assert.That(refused["attempts"]![0]!["status_code"]!.GetValue<int>()).IsEqualTo(401);

        await File.WriteAllTextAsync(file, $"# rotated\n{second}\n");
        var verified = await Poll.Until(async () =>
        {
            var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));
            return run["status"]!.GetValue<string>() == "succeeded";
        }, TimeSpan.FromSeconds(10));
        await Assert.That(verified).IsTrue();
    }

    // ---- Secrets are write-only (SPEC §8) -----------------------------------------------------

    static JsonObject WithSecrets(string url) => new()
    {
        ["name"] = "secretive",
        ["http"] = new JsonObject
        {
            ["method"] = "POST",
            ["url"] = url,
            ["headers"] = new JsonObject
            {
                ["Authorization"] = "Bearer s3cr3t-bearer",
                ["X-Api-Key"] = "s3cr3t-api-key",
                ["cookie"] = "session=s3cr3t-cookie",
                ["X-Plain"] = "visible",
            },
        },
        ["schedule"] = new JsonObject { ["kind"] = "every", ["every"] = "1h" },
        ["max_retries"] = 0,
    };

    static async Task AssertMasked(JsonNode job, string plain = "visible")
    {
        var http = job["http"]!;
        await Assert.That(http["url"]!.GetValue<string>()).Contains("//robot:****@");
        await Assert.That(http["headers"]!["Authorization"]!.GetValue<string>()).IsEqualTo("****");
        await Assert.That(http["headers"]!["X-Api-Key"]!.GetValue<string>()).IsEqualTo("****");
        await Assert.That(http["headers"]!["cookie"]!.GetValue<string>()).IsEqualTo("****");
        await Assert.That(http["headers"]!["X-Plain"]!.GetValue<string>()).IsEqualTo(plain);
        await Assert.That(job.ToJsonString()).DoesNotContain("s3cr3t");
    }

    [Test]
    public async Task Secrets_are_masked_in_every_answer_kept_in_the_journal_and_survive_a_patch()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        var url = callee.Url("/secret").Replace("http://", "http://robot:s3cr3t-pass@");
        var created = await ksana.CreateJobAsync(WithSecrets(url));
        await AssertMasked(created);
        await AssertMasked(await ksana.GetJsonAsync($"/jobs/{Id(created)}"));
        await AssertMasked((await ksana.GetJsonAsync("/jobs"))["jobs"]![0]!);

        // A patch that leaves the secrets alone, and a whole document read back and sent again.
        var renamed = await Answer.Of(ksana.PatchAsync($"/jobs/{Id(created)}", "{\"name\":\"renamed\"}"));
        await Assert.That(renamed.Status).IsEqualTo(200);
        await AssertMasked(renamed.Json!);
        var readBack = await ksana.GetJsonAsync($"/jobs/{Id(created)}");
        readBack["http"]!["headers"]!["X-Plain"] = "changed";
        var resent = await Answer.Of(ksana.PatchAsync($"/jobs/{Id(created)}", readBack.ToJsonString()));
        await Assert.That(resent.Status).IsEqualTo(200).Because(resent.ToString());
        await AssertMasked(resent.Json!, plain: "changed");

        // The callee gets the real values; the job's own Authorization wins over the URL's user info.
        var run = await ksana.WaitForRunAsync(Id(created), await ksana.RunNowAsync(Id(created)));
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        var r = callee.RequestsTo("/secret")[0];
        await Assert.That(r.Header("Authorization")).IsEqualTo("Bearer s3cr3t-bearer");
        await Assert.That(r.Header("X-Api-Key")).IsEqualTo("s3cr3t-api-key");
        await Assert.That(r.Header("Cookie")).IsEqualTo("session=s3cr3t-cookie");
        await Assert.That(r.Header("X-Plain")).IsEqualTo("changed");
        await Assert.That(run.ToJsonString()).DoesNotContain("s3cr3t");

        // The journal keeps the real values (it is 0600 in a 0700 directory).
        await ksana.StopAsync();
        var journal = await File.ReadAllTextAsync(Path.Combine(ksana.Settings.DataDir, Journal.FileName));
        await Assert.That(journal).Contains("s3cr3t-bearer");
        await Assert.That(journal).Contains("robot:s3cr3t-pass@");
    }

    [Test]
    public async Task A_mask_with_nothing_behind_it_or_sent_to_another_host_is_a_400_naming_the_field()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var doc = JobDocs.Hourly();
        doc["http"]!["headers"] = new JsonObject { ["X-Auth-Token"] = "****" };
        var create = await Answer.Of(ksana.PostAsync("/jobs", doc));
        await Assert.That(create.Status).IsEqualTo(400);
        await Assert.That(create.Errors["http.headers.X-Auth-Token"]).IsNotNull();

        doc = JobDocs.Hourly();
        doc["http"]!["url"] = "http://u:****@127.0.0.1:9/never";
        create = await Answer.Of(ksana.PostAsync("/jobs", doc));
        await Assert.That(create.Status).IsEqualTo(400);
        await Assert.That(create.Errors["http.url"]).IsNotNull();

        // A mask is not a value to send: four stars in a header that is not secret are sent as they are.
        doc = JobDocs.Hourly();
        doc["http"]!["headers"] = new JsonObject { ["X-Stars"] = "****" };
        await Assert.That((await Answer.Of(ksana.PostAsync("/jobs", doc))).Status).IsEqualTo(201);

        var job = await ksana.CreateJobAsync(WithSecrets("http://robot:s3cr3t-pass@127.0.0.1:9/never"));
        var newHeader = await Answer.Of(ksana.PatchAsync($"/jobs/{Id(job)}", "{\"http\":{\"headers\":{\"X-New-Secret\":\"****\"}}}"));
        await Assert.That(newHeader.Status).IsEqualTo(400);
        await Assert.That(newHeader.Errors["http.headers.X-New-Secret"]).IsNotNull();

        // Moving the job to another host does not carry its secrets there unseen.
        var moved = await Answer.Of(ksana.PatchAsync($"/jobs/{Id(job)}", "{\"http\":{\"url\":\"http://robot:****@127.0.0.2:9/never\"}}"));
        await Assert.That(moved.Status).IsEqualTo(400);
        await Assert.That(moved.Errors["http.headers.Authorization"]).IsNotNull();
        await Assert.That(moved.Errors["http.url"]).IsNotNull();
        var stored = await ksana.GetJsonAsync($"/jobs/{Id(job)}");
        await Assert.That(stored["http"]!["url"]!.GetValue<string>()).IsEqualTo("http://robot:****@127.0.0.1:9/never");

        // Sending the values again moves it.
        var resent = await Answer.Of(ksana.PatchAsync($"/jobs/{Id(job)}",
            "{\"http\":{\"url\":\"http://robot:new-pass@127.0.0.2:9/never\",\"headers\":{\"Authorization\":\"Bearer n\",\"X-Api-Key\":\"k\",\"cookie\":\"c\"}}}"));
        await Assert.That(resent.Status).IsEqualTo(200).Because(resent.ToString());
    }

    [Test]
    public async Task URL_user_info_is_sent_as_basic_auth_and_not_in_the_URL()
    {
        await using var callee = await Callee.StartAsync();
        await using var ksana = await KsanaServer.StartAsync();
        var url = callee.Url("/basic?q=1").Replace("http://", "http://ro%40bot:p%3Ass@");
        var job = await ksana.CreateJobAsync(JobDocs.Calling(url));

        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        var r = callee.RequestsTo("/basic")[0];
        await Assert.That(r.Header("Authorization")).IsEqualTo("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ro@bot:p:ss")));
        await Assert.That(r.Header("Host")).DoesNotContain("@");
    }

    // ---- Where callbacks may go (SPEC §10) ----------------------------------------------------

    [Test]
    public async Task Every_spelling_of_a_denied_address_is_blocked_at_connect_without_retries()
    {
        await using var callee = await Callee.StartAsync();
        var port = new Uri(callee.BaseUrl).Port;
        string[] urls =
        [
            $"http://localhost:{port}/a",
            $"http://2130706433:{port}/b",
            $"http://0x7f000001:{port}/c",
            $"http://[::ffff:127.0.0.1]:{port}/d",
        ];
        // Literal spellings are refused at create time once loopback is denied, so the jobs are made
        // first and the rule tightened by a restart: then only the connection-time check stands between.
        var open = await KsanaServer.StartAsync();
        var ids = new List<string>();
        foreach (var url in urls) ids.Add(Id(await open.CreateJobAsync(JobDocs.Calling(url, maxRetries: 3, backoff: "10ms"))));
        await using var ksana = await open.RestartAsync(s => s with { OutboundDeny = "loopback" });

        foreach (var id in ids)
        {
            var run = await ksana.WaitForRunAsync(id, await ksana.RunNowAsync(id));
            await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("failed");
            await Assert.That(run["attempts"]!.AsArray().Count).IsEqualTo(1);
            await Assert.That(run["error"]!.GetValue<string>()).StartsWith("blocked by OUTBOUND_DENY: ");
            await Assert.That(run["attempts"]![0]!["error"]!.GetValue<string>()).StartsWith("blocked by OUTBOUND_DENY: ");
        }
        await Assert.That(callee.Requests.Count).IsEqualTo(0);

        foreach (var url in urls[1..])
        {
            var refused = await Answer.Of(ksana.PostAsync("/jobs", JobDocs.Calling(url)));
            await Assert.That(refused.Status).IsEqualTo(400).Because(url);
            await Assert.That(refused.Errors["http.url"]![0]!.GetValue<string>()).Contains("blocked by OUTBOUND_DENY: 127.0.0.1");
        }
    }

    [Test]
    public async Task OUTBOUND_ALLOW_opens_one_address_inside_a_denied_range()
    {
        await using var callee = await Callee.StartAsync();
        var port = new Uri(callee.BaseUrl).Port;
        await using var ksana = await KsanaServer.StartAsync(s => s with { OutboundDeny = "loopback", OutboundAllow = "127.0.0.1/32" });
        foreach (var url in new[] { $"http://127.0.0.1:{port}/literal", $"http://localhost:{port}/name" })
        {
            var job = await ksana.CreateJobAsync(JobDocs.Calling(url));
            var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));
            await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded").Because(run.ToJsonString());
        }
        await Assert.That(callee.Requests.Count).IsEqualTo(2);
    }

    [Test]
    public async Task By_default_Ksanas_own_port_and_link_local_addresses_are_refused()
    {
        await using var ksana = await KsanaServer.StartAsync();
        var own = ksana.Address.Port;

        var literal = await Answer.Of(ksana.PostAsync("/jobs", JobDocs.Calling($"http://127.0.0.1:{own}/jobs")));
        await Assert.That(literal.Status).IsEqualTo(400);
        await Assert.That(literal.Errors["http.url"]![0]!.GetValue<string>()).Contains("own listening port");

        var metadata = await Answer.Of(ksana.PostAsync("/jobs", JobDocs.Calling("http://169.254.169.254/latest/meta-data/")));
        await Assert.That(metadata.Status).IsEqualTo(400);
        await Assert.That(metadata.Errors["http.url"]![0]!.GetValue<string>()).Contains("blocked by OUTBOUND_DENY: 169.254.169.254");

        var job = await ksana.CreateJobAsync(JobDocs.Calling($"http://localhost:{own}/jobs", maxRetries: 2, backoff: "10ms"));
        var run = await ksana.WaitForRunAsync(Id(job), await ksana.RunNowAsync(Id(job)));
        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("failed");
        await Assert.That(run["attempts"]!.AsArray().Count).IsEqualTo(1);
        await Assert.That(run["error"]!.GetValue<string>()).Contains("own listening port");
    }

    [Test]
    public async Task HOST_CONCURRENCY_holds_a_slow_host_back_without_starving_another()
    {
        await using var slow = await Callee.StartAsync();
        await using var fast = await Callee.StartAsync();
        slow.Always("/slow", new Reply(200, TimeSpan.FromSeconds(2)));
        await using var ksana = await KsanaServer.StartAsync(s => s with { HostConcurrency = 2, Workers = 3 });
        var slowJobs = new List<string>();
        for (var i = 0; i < 4; i++) slowJobs.Add(Id(await ksana.CreateJobAsync(JobDocs.Calling(slow.Url("/slow"), timeout: "10s"))));
        var fastJob = Id(await ksana.CreateJobAsync(JobDocs.Calling(fast.Url("/fast"))));

        foreach (var id in slowJobs) await ksana.RunNowAsync(id);
        await Poll.Until(() => slow.Requests.Count >= 2, TimeSpan.FromSeconds(5));
        var started = DateTime.UtcNow;
        var run = await ksana.WaitForRunAsync(fastJob, await ksana.RunNowAsync(fastJob));
        var took = DateTime.UtcNow - started;

        await Assert.That(run["status"]!.GetValue<string>()).IsEqualTo("succeeded");
        await Assert.That(took).IsLessThan(TimeSpan.FromSeconds(1.5));
        await Assert.That(slow.Requests.Count).IsEqualTo(2);
        await Poll.Until(() => slow.Requests.Count == 4, TimeSpan.FromSeconds(10));
        await Assert.That(slow.InFlightMax).IsEqualTo(2);
    }

    // ---- Failed-auth throttling (SPEC §10) ----------------------------------------------------

    [Test]
    public async Task Thirty_bad_keys_from_one_address_then_429_while_a_good_key_is_served()
    {
        await using var ksana = await KsanaServer.StartAsync();
        using var bad = new HttpClient { BaseAddress = ksana.Address };
        bad.DefaultRequestHeaders.Add("X-API-Key", "guess");
        for (var i = 0; i < 30; i++)
        {
            using var response = await bad.GetAsync("/jobs");
            await Assert.That((int)response.StatusCode).IsEqualTo(401);
        }
        using (var throttled = await bad.GetAsync("/jobs"))
        {
            await Assert.That((int)throttled.StatusCode).IsEqualTo(429);
            await Assert.That(throttled.Headers.RetryAfter?.Delta).IsNotNull();
            await Assert.That(throttled.Headers.RetryAfter!.Delta!.Value).IsBetween(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
            await Assert.That(throttled.Content.Headers.ContentType?.MediaType).IsEqualTo("application/problem+json");
        }
        using (var good = await ksana.Client.GetAsync("/jobs"))
            await Assert.That(good.StatusCode).IsEqualTo(HttpStatusCode.OK);
        using (var anonymous = await ksana.Anonymous.GetAsync("/health"))
            await Assert.That(anonymous.StatusCode).IsEqualTo(HttpStatusCode.OK);
    }

    // ---- DATA_DIR is the owner's alone (SPEC §1) ----------------------------------------------

    [Test]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Data_directory_is_0700_and_its_files_0600_torn_copies_included()
    {
        await using var first = await KsanaServer.StartAsync();
        await first.CreateJobAsync(JobDocs.Hourly());
        var data = first.Settings.DataDir;
        await first.StopAsync();
        // A torn last line: the start-up keeps a copy of it aside.
        await File.AppendAllTextAsync(Path.Combine(data, Journal.FileName), "{\"seq\":99,\"torn");
        await using var ksana = await first.RestartAsync();
        await ksana.CreateJobAsync(JobDocs.Hourly());

        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await Assert.That(File.GetUnixFileMode(data)).IsEqualTo(owner | UnixFileMode.UserExecute);
        var files = Directory.GetFiles(data);
        await Assert.That(files.Any(f => f.Contains(".torn-"))).IsTrue().Because(string.Join(", ", files));
        await Assert.That(files.Any(f => f.EndsWith("ksana.lock"))).IsTrue();
        foreach (var file in files)
        {
            UnixFileMode mode;
            try
            {
                mode = File.GetUnixFileMode(file);
            }
            catch (FileNotFoundException) when (file.EndsWith(Journal.CompactFileName, StringComparison.Ordinal))
            {
                continue; // the start-up compaction's file, renamed over the journal since it was listed
            }
            await Assert.That(mode).IsEqualTo(owner).Because(file);
        }
    }
}
