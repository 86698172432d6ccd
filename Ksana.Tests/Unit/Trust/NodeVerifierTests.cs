using System.Net;
using System.Text;
using Ksana.Http.Trust;
using Ksana.Tests.Support;

namespace Ksana.Tests.Unit.Trust;

/// <summary>
/// Signatures checked by the official npm standardwebhooks package rather than by our own reading
/// of the specification. The verifier allows five minutes of clock difference, so these sign with
/// the real time.
/// </summary>
public class NodeVerifierTests
{
    static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    static async Task<HttpResponseMessage> PostSignedAsync(NodeVerifierCallee callee, WebhookSigner signer, string body, string? sentBody = null)
    {
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, callee.Url("/hook"))
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(sentBody ?? body)),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        signer.AddHeaders(request, id, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), Encoding.UTF8.GetBytes(body));
        return await Http.SendAsync(request);
    }

    static WebhookSigner Signer(params string[] secrets) => WebhookSigner.Parse(secrets, out var error) ?? throw new InvalidOperationException(error);

    [Test]
    public async Task A_signed_request_verifies()
    {
        var secret = WebhookSignerTests.NewSecret();
        await using var callee = await NodeVerifierCallee.StartAsync(secret);
        const string body = """{"job":"nightly","note":"naïve café ✓"}""";
        using var response = await PostSignedAsync(callee, Signer(secret), body);
        await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.OK);

        var seen = (await callee.WaitForAsync(1)).Single();
        await Assert.That(seen.Verified).IsTrue();
        await Assert.That(seen.Body).IsEqualTo(body);
        await Assert.That(seen.Header("webhook-signature")).StartsWith("v1,");
    }

    [Test]
    public async Task A_wrong_secret_or_a_changed_body_does_not()
    {
        await using var callee = await NodeVerifierCallee.StartAsync(WebhookSignerTests.NewSecret());
        using var wrongSecret = await PostSignedAsync(callee, Signer(WebhookSignerTests.NewSecret()), "{}");
        await Assert.That(wrongSecret.StatusCode).IsEqualTo(HttpStatusCode.Unauthorized);

        var seen = (await callee.WaitForAsync(1)).Single();
        await Assert.That(seen.Verified).IsFalse();
        await Assert.That(seen.Error).IsEqualTo("No matching signature found");
    }

    [Test]
    public async Task A_body_changed_after_signing_does_not_verify()
    {
        var secret = WebhookSignerTests.NewSecret();
        await using var callee = await NodeVerifierCallee.StartAsync(secret);
        using var response = await PostSignedAsync(callee, Signer(secret), """{"amount":1}""", sentBody: """{"amount":9}""");
        await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.Unauthorized);
    }

    [Test]
    public async Task During_rotation_a_callee_that_knows_either_secret_verifies()
    {
        string old = WebhookSignerTests.NewSecret(24), next = WebhookSignerTests.NewSecret(64);
        var signer = Signer(old, next);
        await using (var movedOver = await NodeVerifierCallee.StartAsync(next))
        {
            using var response = await PostSignedAsync(movedOver, signer, """{"n":1}""");
            await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.OK);
            await Assert.That((await movedOver.WaitForAsync(1)).Single().Header("webhook-signature").Split(' ').Length).IsEqualTo(2);
        }
        await using (var notYet = await NodeVerifierCallee.StartAsync(old))
        {
            using var response = await PostSignedAsync(notYet, signer, """{"n":2}""");
            await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.OK);
        }
    }
}
