using System.Security.Cryptography;
using System.Text;
using Ksana.Http.Trust;

namespace Ksana.Tests.Unit.Trust;

public class WebhookSignerTests
{
    // The example of the Standard Webhooks specification (and of its reference libraries' tests).
    const string SpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const string SpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const long SpecTimestamp = 1614265330;
    const string SpecBody = """{"test": 2432232314}""";
    const string SpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    internal static string NewSecret(int bytes = 32) => WebhookSigner.SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes));

    static WebhookSigner Signer(params string[] lines) =>
        WebhookSigner.Parse(lines, out var error) ?? throw new InvalidOperationException(error);

    [Test]
    public async Task Signs_the_specification_example()
    {
        var signature = Signer(SpecSecret).Sign(SpecId, SpecTimestamp, Encoding.UTF8.GetBytes(SpecBody));
        await Assert.That(signature).IsEqualTo(SpecSignature);
    }

    [Test]
    public async Task One_entry_per_secret_in_file_order_separated_by_single_spaces()
    {
        var other = NewSecret();
        var signer = Signer("# rotation: the old one first", SpecSecret, "", "  " + other + "  ");
        var signature = signer.Sign(SpecId, SpecTimestamp, Encoding.UTF8.GetBytes(SpecBody));
        var entries = signature.Split(' ');
        await Assert.That(signer.Count).IsEqualTo(2);
        await Assert.That(entries.Length).IsEqualTo(2);
        await Assert.That(entries[0]).IsEqualTo(SpecSignature);
        await Assert.That(entries[1]).IsEqualTo(Signer(other).Sign(SpecId, SpecTimestamp, Encoding.UTF8.GetBytes(SpecBody)));
        await Assert.That(signature.Length).IsEqualTo(signer.SignatureLength);
    }

    [Test]
    [Arguments(0)]
    [Arguments(1000)]
    [Arguments(5000)]
    [Arguments(1_000_000)]
    public async Task Bodies_on_the_stack_and_from_the_pool_sign_the_same_as_a_plain_HMAC(int size)
    {
        var body = RandomNumberGenerator.GetBytes(size);
        var secret = NewSecret(64);
        var key = Convert.FromBase64String(secret[WebhookSigner.SecretPrefix.Length..]);
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, (byte[])[.. Encoding.UTF8.GetBytes("0123456789abcdef0123456789abcdef.1700000000."), .. body]));
        await Assert.That(Signer(secret).Sign("0123456789abcdef0123456789abcdef", 1700000000, body)).IsEqualTo(expected);
    }

    [Test]
    public async Task Adds_the_three_headers()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://example.test/");
        Signer(SpecSecret).AddHeaders(request, SpecId, SpecTimestamp, Encoding.UTF8.GetBytes(SpecBody));
        await Assert.That(request.Headers.GetValues("webhook-id").Single()).IsEqualTo(SpecId);
        await Assert.That(request.Headers.GetValues("webhook-timestamp").Single()).IsEqualTo("1614265330");
        await Assert.That(request.Headers.GetValues("webhook-signature").Single()).IsEqualTo(SpecSignature);
    }

    [Test]
    [Arguments("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "line 2: a secret must start with whsec_ followed by base64")]
    [Arguments("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", "line 2: the secret after whsec_ is not valid base64")]
    [Arguments("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "line 2: the secret decodes to 21 bytes; it must be 24 to 64")]
    [Arguments("whsec_", "line 2: the secret decodes to 0 bytes; it must be 24 to 64")]
    public async Task A_bad_line_is_named_by_number_and_never_echoed(string bad, string expected)
    {
        var signer = WebhookSigner.Parse(["# comment", bad, SpecSecret], out var error);
        await Assert.That(signer).IsNull();
        await Assert.That(error).IsEqualTo(expected);
        var secretPart = bad.StartsWith("whsec_") ? bad[6..] : bad;
        if (secretPart.Length > 0) await Assert.That(error).DoesNotContain(secretPart);
    }

    [Test]
    public async Task Secrets_of_24_and_64_bytes_are_accepted_and_longer_ones_are_not()
    {
        await Assert.That(WebhookSigner.TryParseSecret(NewSecret(24), out var s24, out _)).IsTrue();
        await Assert.That(s24.Length).IsEqualTo(24);
        await Assert.That(WebhookSigner.TryParseSecret(NewSecret(64), out var s64, out _)).IsTrue();
        await Assert.That(s64.Length).IsEqualTo(64);
        await Assert.That(WebhookSigner.TryParseSecret(NewSecret(65), out _, out var error)).IsFalse();
        await Assert.That(error).IsEqualTo("the secret decodes to 65 bytes; it must be 24 to 64");
        await Assert.That(WebhookSigner.TryParseSecret(NewSecret(67), out _, out error)).IsFalse();
        await Assert.That(error).IsEqualTo("the secret after whsec_ is longer than base64 of 64 bytes");
    }

    [Test]
    public async Task An_empty_file_is_a_signer_with_no_secret_and_more_than_the_limit_is_an_error()
    {
        var empty = WebhookSigner.Parse(["", "# nothing yet"], out _);
        await Assert.That(empty!.Count).IsEqualTo(0);
        await Assert.That(empty.SignatureLength).IsEqualTo(0);

        var many = Enumerable.Range(0, WebhookSigner.SecretsMax + 1).Select(_ => NewSecret()).ToArray();
        await Assert.That(WebhookSigner.Parse(many, out var error)).IsNull();
        await Assert.That(error).IsEqualTo($"line {WebhookSigner.SecretsMax + 1}: more than {WebhookSigner.SecretsMax} secrets");
    }
}
