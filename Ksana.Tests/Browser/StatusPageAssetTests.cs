using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Ksana.Operations;

namespace Ksana.Tests.Browser;

/// <summary>
/// How the status page's files are served (SPEC §11), over plain HTTP: no key, a strict CSP, an ETag
/// that answers 304, gzip and Brotli of the same bytes; and the /ui/session contract.
/// </summary>
public sealed class StatusPageAssetTests
{
    static readonly string[] Assets = ["/", "/ui/app.js", "/ui/app.css"];

    static HttpRequestMessage Get(string path, string? acceptEncoding = null, string? ifNoneMatch = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (acceptEncoding is not null) request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        if (ifNoneMatch is not null) request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        return request;
    }

    [Test]
    public async Task Page_and_its_files_need_no_key_and_carry_a_strict_policy()
    {
        await using var ksana = await KsanaServer.StartAsync();
        foreach (var path in Assets)
        {
            using var response = await ksana.Anonymous.SendAsync(Get(path));
            var body = await response.Content.ReadAsStringAsync();
            await Assert.That((int)response.StatusCode).IsEqualTo(200).Because(path);
            await Assert.That(body.Length).IsGreaterThan(100);
            await Assert.That(response.Headers.GetValues("Content-Security-Policy").Single()).IsEqualTo(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
            await Assert.That(response.Headers.GetValues("X-Content-Type-Options").Single()).IsEqualTo("nosniff");
            await Assert.That(response.Headers.CacheControl!.NoCache).IsTrue();
            await Assert.That(response.Headers.ETag).IsNotNull();
        }
        using var html = await ksana.Anonymous.GetAsync("/");
        await Assert.That(html.Content.Headers.ContentType!.MediaType).IsEqualTo("text/html");
        var text = await html.Content.ReadAsStringAsync();
        // Nothing inline that the policy would have to allow, and nothing from another host.
        await Assert.That(Regex.IsMatch(text, @"<script(?![^>]*\bsrc=""/ui/app\.js"")", RegexOptions.IgnoreCase)).IsFalse();
        await Assert.That(Regex.IsMatch(text, @"<style|\sstyle=|\son[a-z]+=", RegexOptions.IgnoreCase)).IsFalse();
        foreach (Match m in Regex.Matches(text, @"\b(?:src|href)=""([^""]*)"""))
            await Assert.That(m.Groups[1].Value.StartsWith("/ui/", StringComparison.Ordinal) || m.Groups[1].Value.StartsWith("data:", StringComparison.Ordinal))
                .IsTrue().Because(m.Value);
    }

    [Test]
    public async Task Letting_the_page_through_opens_nothing_else()
    {
        await using var ksana = await KsanaServer.StartAsync();
        foreach (var path in new[] { "/jobs", "/ui/session", "/ui/other", "/index.html", "/ui/app.js/x" })
        {
            using var response = await ksana.Anonymous.GetAsync(path);
            await Assert.That((int)response.StatusCode).IsEqualTo(401).Because(path);
        }
        using var post = await ksana.Anonymous.PostAsync("/", new StringContent(""));
        await Assert.That((int)post.StatusCode).IsEqualTo(401);
    }

    [Test]
    public async Task Unchanged_files_answer_304_to_their_etag()
    {
        await using var ksana = await KsanaServer.StartAsync();
        foreach (var path in Assets)
        {
            foreach (var encoding in new[] { "br", "gzip", "identity" })
            {
                using var first = await ksana.Anonymous.SendAsync(Get(path, encoding));
                var etag = first.Headers.ETag!.ToString();
                using var again = await ksana.Anonymous.SendAsync(Get(path, encoding, etag));
                await Assert.That((int)again.StatusCode).IsEqualTo(304).Because($"{path} {encoding}");
                await Assert.That((await again.Content.ReadAsByteArrayAsync()).Length).IsEqualTo(0);
                using var stale = await ksana.Anonymous.SendAsync(Get(path, encoding, "\"something-else\""));
                await Assert.That((int)stale.StatusCode).IsEqualTo(200);
            }
        }
    }

    [Test]
    public async Task Brotli_and_gzip_carry_the_same_bytes_as_the_plain_file()
    {
        await using var ksana = await KsanaServer.StartAsync();
        // HttpClient must not decompress by itself here: the test reads the bytes as sent.
        using var raw = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = ksana.Address };
        var total = new Dictionary<string, long> { ["br"] = 0, ["gzip"] = 0, ["identity"] = 0 };
        foreach (var path in Assets)
        {
            using var plain = await raw.SendAsync(Get(path));
            var identity = await plain.Content.ReadAsByteArrayAsync();
            await Assert.That(plain.Content.Headers.ContentEncoding).IsEmpty();
            total["identity"] += identity.Length;
            var tags = new HashSet<string> { plain.Headers.ETag!.Tag };
            foreach (var encoding in new[] { "br", "gzip" })
            {
                using var response = await raw.SendAsync(Get(path, $"{encoding}, deflate"));
                await Assert.That(response.Content.Headers.ContentEncoding.Single()).IsEqualTo(encoding);
                await Assert.That(response.Headers.Vary.Contains("Accept-Encoding")).IsTrue();
                var compressed = await response.Content.ReadAsByteArrayAsync();
                total[encoding] += compressed.Length;
                using var input = new MemoryStream(compressed);
                using Stream decoder = encoding == "br" ? new BrotliStream(input, CompressionMode.Decompress) : new GZipStream(input, CompressionMode.Decompress);
                using var output = new MemoryStream();
                await decoder.CopyToAsync(output);
                await Assert.That(output.ToArray().SequenceEqual(identity)).IsTrue().Because($"{path} {encoding}");
                await Assert.That(compressed.Length).IsLessThan(identity.Length);
                await Assert.That(tags.Add(response.Headers.ETag!.Tag)).IsTrue().Because("each coding has its own ETag");
            }
            using var refused = await raw.SendAsync(Get(path, "br;q=0, gzip;q=0"));
            await Assert.That(refused.Content.Headers.ContentEncoding).IsEmpty();
        }
        Console.WriteLine($"status page assets: {total["identity"]} bytes plain, {total["gzip"]} gzip, {total["br"]} brotli");
    }

    [Test]
    public async Task Session_needs_a_key_and_says_admin_for_a_key_without_a_scope()
    {
        await using var ksana = await KsanaServer.StartAsync();
        using var anonymous = await ksana.Anonymous.GetAsync("/ui/session");
        await Assert.That((int)anonymous.StatusCode).IsEqualTo(401);
        using var response = await ksana.Client.GetAsync("/ui/session");
        await Assert.That((int)response.StatusCode).IsEqualTo(200);
        await Assert.That(response.Content.Headers.ContentType!.MediaType).IsEqualTo("application/json");
        await Assert.That(response.Headers.CacheControl!.NoStore).IsTrue();
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        await Assert.That(body.ToJsonString()).IsEqualTo("""{"scope":"admin"}""");
    }

    /// <summary>
    /// The contract with authentication: whatever it leaves in HttpContext.Items["ksana.scope"] is what
    /// /ui/session reports. A bare host stands in for the key middleware that will set it.
    /// </summary>
    [Test]
    [Arguments("read", "read")]
    [Arguments("admin", "admin")]
    [Arguments(null, "admin")]
    public async Task Session_reports_the_scope_authentication_left_in_the_request(string? scope, string expected)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.Use((context, next) =>
        {
            if (scope is not null) context.Items[StatusPageEndpoint.ScopeItem] = scope;
            return next(context);
        });
        app.MapStatusPage();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var client = new HttpClient { BaseAddress = new Uri(address) };
        var body = await client.GetStringAsync("/ui/session");
        await Assert.That(body).IsEqualTo($$"""{"scope":"{{expected}}"}""");
        await app.StopAsync();
    }
}
