using System.Net;
using System.Net.Http.Headers;

namespace Ksana.Tests.EndToEnd;

/// <summary>SPEC §3 through the published binary: both headers, 401s, /health without a key, rotation.</summary>
public sealed class AuthenticationTests
{
    [Test]
    public async Task Keys_are_checked_and_health_needs_none()
    {
        using var dir = new TempDir();
        var keys = dir.Combine("keys");
        // Comments, blank lines and surrounding white space are not keys (SPEC §3).
        File.WriteAllText(keys, "# operators' keys\n\n   key-one   \n");
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys);
        using var http = new HttpClient { BaseAddress = ksana.BaseAddress };

        using (var health = await http.GetAsync("/health"))
        {
            await Assert.That(health.StatusCode).IsEqualTo(HttpStatusCode.OK);
            await Assert.That(await health.Content.ReadAsStringAsync()).IsEqualTo("{\"status\":\"ok\"}");
        }

        await AssertUnauthorized(http, null, null);
        await AssertUnauthorized(http, "Authorization", "ApiKey wrong-key");
        await AssertUnauthorized(http, "X-API-Key", "wrong-key");
        await AssertUnauthorized(http, "Authorization", "Bearer key-one");
        await AssertUnauthorized(http, "X-API-Key", "# operators' keys");

        await Assert.That(await StatusWith(http, "Authorization", "ApiKey key-one")).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(await StatusWith(http, "X-API-Key", "key-one")).IsEqualTo(HttpStatusCode.OK);
    }

    [Test]
    public async Task Rewriting_the_keys_file_rotates_keys_without_a_restart()
    {
        using var dir = new TempDir();
        var keys = dir.WriteKeys("key-old");
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keys);
        using var http = new HttpClient { BaseAddress = ksana.BaseAddress };
        await Assert.That(await StatusWith(http, "X-API-Key", "key-old")).IsEqualTo(HttpStatusCode.OK);

        // In place, as `echo key > file` does.
        File.WriteAllText(keys, "key-new\n");
        var took = await WaitAcceptedAsync(http, "key-new", TimeSpan.FromSeconds(3));
        await Assert.That(took).IsNotNull().Because("the rewritten key was not accepted within 3 s");
        await Assert.That(await StatusWith(http, "X-API-Key", "key-old")).IsEqualTo(HttpStatusCode.Unauthorized);

        // By rename over the file, as editors and config management do.
        var staged = dir.Combine("keys.staged");
        File.WriteAllText(staged, "key-newer\n");
        File.Move(staged, keys, overwrite: true);
        took = await WaitAcceptedAsync(http, "key-newer", TimeSpan.FromSeconds(3));
        await Assert.That(took).IsNotNull().Because("a key file renamed into place was not picked up within 3 s");
        await Assert.That(await StatusWith(http, "X-API-Key", "key-new")).IsEqualTo(HttpStatusCode.Unauthorized);
    }

    [Test]
    public async Task Without_a_keys_file_every_authenticated_request_is_rejected()
    {
        using var dir = new TempDir();
        await using var ksana = await KsanaProcess.StartAsync(KsanaProcess.FreePort(), dir.Data, keysFile: null);
        using var http = new HttpClient { BaseAddress = ksana.BaseAddress };

        using (var health = await http.GetAsync("/health"))
            await Assert.That(health.StatusCode).IsEqualTo(HttpStatusCode.OK);
        await AssertUnauthorized(http, "X-API-Key", "anything");
        await AssertUnauthorized(http, "Authorization", "ApiKey ");
        await Assert.That(ksana.Stdout + ksana.Stderr).Contains("AUTH_KEYS_FILE", StringComparison.OrdinalIgnoreCase)
            .Because("start-up must log a warning that no keys are configured");
    }

    static async Task<HttpStatusCode> StatusWith(HttpClient http, string header, string value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/jobs");
        request.Headers.TryAddWithoutValidation(header, value);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    static async Task AssertUnauthorized(HttpClient http, string? header, string? value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/jobs");
        if (header is not null) request.Headers.TryAddWithoutValidation(header, value);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.Unauthorized).Because($"{header}: {value}");
        await Assert.That(response.Headers.WwwAuthenticate.ToString()).IsEqualTo("ApiKey");
        await Assert.That(response.Content.Headers.ContentType?.MediaType).IsEqualTo("application/problem+json");
        await Assert.That(body).Contains("\"status\":401");
        if (value is not null && value.Length > 8)
            await Assert.That(body).DoesNotContain(value.Split(' ').Last()).Because("keys are never echoed");
    }

    static async Task<TimeSpan?> WaitAcceptedAsync(HttpClient http, string key, TimeSpan within)
    {
        var started = DateTime.UtcNow;
        while (DateTime.UtcNow - started <= within)
        {
            if (await StatusWith(http, "X-API-Key", key) == HttpStatusCode.OK) return DateTime.UtcNow - started;
            await Task.Delay(200); // slower than the failed-auth throttle (30 a minute) counts
        }
        return null;
    }
}
