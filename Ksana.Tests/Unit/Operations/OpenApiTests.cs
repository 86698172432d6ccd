using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ksana.Hosting;
using Ksana.Operations;
using Ksana.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ksana.Tests.Unit.Operations;

public class OpenApiTests
{
    static JsonObject Document() => JsonNode.Parse(OpenApiEndpoint.Json.Span)!.AsObject();

    [Test]
    public async Task The_embedded_document_passes_a_real_openapi_validator()
    {
        var dir = Repository.PathOf("Ksana.Tests", "Support", "openapi");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@apidevtools")))
            throw new InvalidOperationException($"the OpenAPI validator is not installed: run `npm ci` in {dir} (./build.sh test does)");
        var file = Path.Combine(Path.GetTempPath(), $"ksana-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllBytesAsync(file, OpenApiEndpoint.Json.ToArray());
        try
        {
            var start = new ProcessStartInfo("node", [Path.Combine(dir, "validate.mjs"), file])
            {
                WorkingDirectory = dir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            Process process;
            try { process = Process.Start(start)!; }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new InvalidOperationException("node is not installed, so the OpenAPI document cannot be validated: apt-get install -y nodejs npm", e);
            }
            using (process)
            {
                var stdout = process.StandardOutput.ReadToEndAsync();
                var stderr = process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync();
                var output = await stdout + await stderr;
                await Assert.That(process.ExitCode).IsEqualTo(0).Because(output);
                await Assert.That(output).StartsWith("valid: OpenAPI 3.1.0");
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task Every_route_of_the_contract_is_documented()
    {
        string[] contract =
        [
            "POST /jobs", "GET /jobs", "GET /jobs/{}", "PATCH /jobs/{}", "DELETE /jobs/{}", "POST /jobs/{}/run-now",
            "POST /jobs/{}/pause", "POST /jobs/{}/resume", "GET /jobs/{}/runs", "GET /jobs/{}/upcoming",
            "GET /jobs/by-key/{}", "PUT /jobs/by-key/{}", "POST /schedules/preview", "GET /runs", "GET /runs/{}",
            "POST /runs/{}/replay", "GET /metrics", "GET /openapi.json", "GET /", "GET /health", "GET /cluster",
            "GET /stats/runs-per-minute", "GET /ui/app.js", "GET /ui/app.css", "GET /ui/session",
        ];
        await Assert.That(RouteCoverage.Documented(Document())).IsEquivalentTo(contract);
    }

    [Test]
    public async Task Idempotency_key_is_on_exactly_the_three_posts_spec_names()
    {
        var withKey = new List<string>();
        foreach (var (path, item) in Document()["paths"]!.AsObject())
            foreach (var (method, operation) in item!.AsObject())
                if (operation is JsonObject o && o["parameters"] is JsonArray ps &&
                    ps.Any(p => p!["$ref"]?.GetValue<string>() == "#/components/parameters/IdempotencyKey"))
                    withKey.Add($"{method} {path}");
        await Assert.That(withKey).IsEquivalentTo(["post /jobs", "post /jobs/{id}/run-now", "post /runs/{run_id}/replay"]);
    }

    [Test]
    public async Task Only_health_openapi_and_the_page_are_open_and_everything_else_answers_401()
    {
        var open = new List<string>();
        foreach (var (path, item) in Document()["paths"]!.AsObject())
            foreach (var (method, operation) in item!.AsObject())
            {
                if (method == "parameters") continue;
                if (operation!["security"] is JsonArray { Count: 0 }) open.Add(path);
                else await Assert.That(operation["responses"]!["401"]).IsNotNull().Because($"{method} {path}");
            }
        await Assert.That(open).IsEquivalentTo(["/openapi.json", "/", "/ui/app.js", "/ui/app.css", "/health"]);
    }

    [Test]
    public async Task Route_shapes_ignore_parameter_names_and_constraints()
    {
        await Assert.That(RouteCoverage.Shape("/jobs/{id:guid}/runs/")).IsEqualTo("/jobs/{}/runs");
        await Assert.That(RouteCoverage.Shape("/runs/{run_id}")).IsEqualTo("/runs/{}");
        await Assert.That(RouteCoverage.Shape("/")).IsEqualTo("/");
        await Assert.That(RouteCoverage.Shape("")).IsEqualTo("/");
    }

    /// <summary>
    /// The real route table of a real server: every route it maps must be in the document. Until
    /// KsanaHost maps /metrics, /openapi.json and /stats/runs-per-minute itself, this test maps the
    /// ones still missing, then serves them through the server's own middleware.
    /// </summary>
    [Test]
    public async Task Every_route_the_server_maps_is_documented_and_the_operations_routes_answer()
    {
        var dir = Path.Combine(Path.GetTempPath(), "ksana-openapi-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var key = "key-" + Guid.NewGuid().ToString("N");
        var keys = Path.Combine(dir, "keys");
        await File.WriteAllTextAsync(keys, key + "\n");
        var settings = new Settings
        {
            Urls = "http://127.0.0.1:0",
            DataDir = Path.Combine(dir, "data"),
            AuthKeysFile = keys,
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
        };
        var app = KsanaHost.Build(settings);
        try
        {
            var metrics = new KsanaMetrics(Settings.Version, DateTimeOffset.UtcNow);
            metrics.RunFinished(Ksana.Wire.RunStatus.Succeeded);
            var mapped = RouteCoverage.Mapped(((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints));
            if (!mapped.Contains("GET /metrics")) app.MapMetrics(metrics);
            if (!mapped.Contains("GET /openapi.json")) app.MapOpenApi();
            if (!mapped.Contains("GET /stats/runs-per-minute")) app.MapStats(new RunsPerMinute(TimeProvider.System));
            await app.StartAsync();

            var endpoints = app.Services.GetRequiredService<EndpointDataSource>().Endpoints;
            var served = RouteCoverage.Mapped(endpoints);
            foreach (var route in new[] { "POST /jobs", "GET /health", "GET /metrics", "GET /openapi.json", "GET /stats/runs-per-minute" })
                await Assert.That(served).Contains(route); // the table read is the real one, not an empty list
            var undocumented = RouteCoverage.Undocumented(endpoints, Document());
            await Assert.That(undocumented).IsEmpty()
                .Because($"mapped but not in openapi.json: {string.Join(", ", undocumented)}");

            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var handler = new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None };
            using var client = new HttpClient(handler) { BaseAddress = new Uri(address) };
            client.DefaultRequestHeaders.Add("X-API-Key", key);

            using (var response = await client.GetAsync("/metrics"))
            {
                var text = await response.Content.ReadAsStringAsync();
                await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.OK);
                await Assert.That(response.Content.Headers.ContentType!.ToString()).IsEqualTo(MetricsWriter.ContentType);
                await Assert.That(text).Contains("ksana_runs_total{status=\"succeeded\"} ");
                var (exit, output) = await Promtool.CheckMetricsAsync(text);
                await Assert.That(exit).IsEqualTo(0).Because(output);
            }

            using (var response = await client.GetAsync("/stats/runs-per-minute"))
            {
                var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.OK);
                await Assert.That(body["minutes"]!.AsArray().Count).IsEqualTo(60);
            }

            string etag;
            using (var request = new HttpRequestMessage(HttpMethod.Get, "/openapi.json"))
            {
                request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, br");
                using var response = await client.SendAsync(request);
                await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.OK);
                await Assert.That(response.Content.Headers.ContentType!.MediaType).IsEqualTo("application/json");
                await Assert.That(response.Content.Headers.ContentEncoding.Single()).IsEqualTo("br");
                await Assert.That(response.Headers.CacheControl!.NoCache).IsTrue();
                etag = response.Headers.ETag!.Tag;
                await using var brotli = new BrotliStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                await brotli.CopyToAsync(plain);
                await Assert.That(plain.ToArray().SequenceEqual(OpenApiEndpoint.Json.ToArray())).IsTrue();
            }
            using (var request = new HttpRequestMessage(HttpMethod.Get, "/openapi.json"))
            {
                request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
                using var response = await client.SendAsync(request);
                await Assert.That(response.Content.Headers.ContentEncoding.Single()).IsEqualTo("gzip");
                await using var gzip = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
                using var reader = new StreamReader(gzip, Encoding.UTF8);
                await Assert.That(JsonNode.Parse(await reader.ReadToEndAsync())!["openapi"]!.GetValue<string>()).IsEqualTo("3.1.0");
            }
            using (var request = new HttpRequestMessage(HttpMethod.Get, "/openapi.json"))
            {
                request.Headers.TryAddWithoutValidation("If-None-Match", etag);
                using var response = await client.SendAsync(request);
                await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.NotModified);
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
