using System.Text;
using Ksana.Http.Trust;

namespace Ksana.Tests.Unit.Trust;

public class SecretsTests
{
    static KeyValuePair<string, string> H(string name, string value) => new(name, value);

    [Test]
    [Arguments("Authorization", true)]
    [Arguments("proxy-authorization", true)]
    [Arguments("COOKIE", true)]
    [Arguments("X-Api-Key", true)]
    [Arguments("X-Auth-Token", true)]
    [Arguments("Client-Secret", true)]
    [Arguments("X-Password", true)]
    [Arguments("X-Hub-Signature-256", true)]
    [Arguments("Keyboard-Layout", true)]
    [Arguments("Content-Type", false)]
    [Arguments("Set-Cookie-Policy", false)]
    [Arguments("X-Request-Id", false)]
    public async Task Sensitive_header_names(string name, bool sensitive)
    {
        await Assert.That(Secrets.IsSensitiveHeader(name)).IsEqualTo(sensitive);
    }

    [Test]
    public async Task Masks_sensitive_header_values_and_keeps_order()
    {
        IReadOnlyList<KeyValuePair<string, string>> headers = [H("Content-Type", "application/json"), H("Authorization", "Bearer abc"), H("X-Api-Key", "k1")];
        var masked = Secrets.MaskHeaders(headers);
        await Assert.That(masked).IsEquivalentTo(new[] { H("Content-Type", "application/json"), H("Authorization", "****"), H("X-Api-Key", "****") });
        await Assert.That(headers[1].Value).IsEqualTo("Bearer abc");

        IReadOnlyList<KeyValuePair<string, string>> plain = [H("Accept", "text/plain")];
        await Assert.That(ReferenceEquals(Secrets.MaskHeaders(plain), plain)).IsTrue();
    }

    [Test]
    [Arguments("https://user:pa%40ss@Example.com:8443/a/b?q=1#f", "https://user:****@Example.com:8443/a/b?q=1#f")]
    [Arguments("https://user@example.com/", "https://user@example.com/")]
    [Arguments("https://user:@example.com/", "https://user:@example.com/")]
    [Arguments("https://example.com/path?email=a@b.c", "https://example.com/path?email=a@b.c")]
    [Arguments("https://example.com/p:q@r", "https://example.com/p:q@r")]
    [Arguments("http://u:p@w@example.com/", "http://u:****@example.com/")]
    [Arguments("not a url", "not a url")]
    public async Task Masks_only_the_password_of_a_url(string url, string expected)
    {
        await Assert.That(Secrets.MaskUrl(url)).IsEqualTo(expected);
    }

    [Test]
    public async Task A_mask_sent_back_keeps_the_stored_header_value()
    {
        IReadOnlyList<KeyValuePair<string, string>> stored = [H("Authorization", "Bearer old"), H("X-Token", "t")];
        IReadOnlyList<KeyValuePair<string, string>> edited = [H("authorization", "****"), H("X-Token", "new"), H("Accept", "****")];
        var error = Secrets.MergeHeaders(stored, edited, out var merged);
        await Assert.That(error).IsNull();
        // The name as sent now, the value as stored; a non-sensitive header's four stars are literal.
        await Assert.That(merged).IsEquivalentTo(new[] { H("authorization", "Bearer old"), H("X-Token", "new"), H("Accept", "****") });
    }

    [Test]
    public async Task A_mask_with_nothing_stored_behind_it_is_an_error()
    {
        IReadOnlyList<KeyValuePair<string, string>> stored = [H("X-Token", "t")];
        await Assert.That(Secrets.MergeHeaders(stored, [H("Authorization", "****")], out _))
            .IsEqualTo("Authorization: **** can only keep a value that is already stored");
        await Assert.That(Secrets.MergeHeaders(null, [H("Cookie", "****")], out _))
            .IsEqualTo("Cookie: **** can only keep a value that is already stored");
    }

    [Test]
    public async Task A_masked_url_password_keeps_the_stored_one()
    {
        var error = Secrets.MergeUrl("https://user:p%40ss@old.example/x", "https://user:****@new.example/y?z=1", out var merged);
        await Assert.That(error).IsNull();
        await Assert.That(merged).IsEqualTo("https://user:p%40ss@new.example/y?z=1");

        await Assert.That(Secrets.MergeUrl("https://user:a@h/", "https://user:b@h/", out merged)).IsNull();
        await Assert.That(merged).IsEqualTo("https://user:b@h/");

        await Assert.That(Secrets.MergeUrl("https://h/", "https://user:****@h/", out _))
            .IsEqualTo("password: **** can only keep a value that is already stored");
        await Assert.That(Secrets.MergeUrl(null, "https://user:****@h/", out _)).IsNotNull();
    }

    [Test]
    public async Task User_info_becomes_basic_authorization_percent_decoded()
    {
        var (url, authorization) = Secrets.WithoutUserInfo(new Uri("https://us%20er:p%40ss%3Aw%C3%B6rd@example.com:8443/a?b=1"), jobSetsAuthorization: false);
        await Assert.That(url.AbsoluteUri).IsEqualTo("https://example.com:8443/a?b=1");
        await Assert.That(url.UserInfo).IsEqualTo("");
        await Assert.That(authorization).IsEqualTo("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("us er:p@ss:wörd")));
    }

    [Test]
    public async Task User_info_without_a_password_and_a_job_that_sets_authorization()
    {
        var (_, userOnly) = Secrets.WithoutUserInfo(new Uri("http://alice@example.com/"), jobSetsAuthorization: false);
        await Assert.That(userOnly).IsEqualTo("Basic " + Convert.ToBase64String("alice:"u8.ToArray()));

        var (url, none) = Secrets.WithoutUserInfo(new Uri("http://alice:pw@example.com/"), jobSetsAuthorization: true);
        await Assert.That(none).IsNull();
        await Assert.That(url.AbsoluteUri).IsEqualTo("http://example.com/");

        var plain = new Uri("http://example.com/x");
        var (same, nothing) = Secrets.WithoutUserInfo(plain, jobSetsAuthorization: false);
        await Assert.That(ReferenceEquals(same, plain)).IsTrue();
        await Assert.That(nothing).IsNull();
    }
}
