using System.Text;
using Ksana.Http.Trust;
using Microsoft.Extensions.Time.Testing;

namespace Ksana.Tests.Unit.Trust;

public class SigningKeysTests
{
    sealed class Rig : IDisposable
    {
        public readonly string Dir = Path.Combine(Path.GetTempPath(), "ksana-signing-" + Guid.NewGuid().ToString("N")[..12]);
        public readonly FakeTimeProvider Time = new();
        public readonly CapturingLogger<SigningKeys> Log = new();
        public string File => Path.Combine(Dir, "signing.keys");

        public Rig() => Directory.CreateDirectory(Dir);

        public void Write(params string[] lines)
        {
            System.IO.File.WriteAllText(File, string.Join('\n', lines) + "\n");
            // The poll compares size and modification time; make sure the time moves even when a
            // rewrite lands within the file system's timestamp granularity.
            System.IO.File.SetLastWriteTimeUtc(File, DateTime.UtcNow.AddSeconds(Interlocked.Increment(ref _writes)));
        }

        int _writes;

        public SigningKeys Open() => new(File, Time, Log);

        public void Dispose() => Directory.Delete(Dir, recursive: true);
    }

    static string Sign(SigningKeys keys) => keys.Signer!.Sign("id", 1, Encoding.UTF8.GetBytes("body"));

    [Test]
    public async Task Loads_the_secrets_in_file_order()
    {
        using var rig = new Rig();
        string a = WebhookSignerTests.NewSecret(), b = WebhookSignerTests.NewSecret();
        rig.Write("# signing secrets", a, "", "   " + b);
        using var keys = rig.Open();
        await Assert.That(keys.Problem).IsNull();
        await Assert.That(keys.Signer!.Count).IsEqualTo(2);
        await Assert.That(Sign(keys).Split(' ')[0]).IsEqualTo(WebhookSigner.Parse([a], out _)!.Sign("id", 1, Encoding.UTF8.GetBytes("body")));
    }

    [Test]
    public async Task No_file_setting_or_no_secret_means_signing_is_off()
    {
        using var unset = new SigningKeys(null, new FakeTimeProvider(), new CapturingLogger<SigningKeys>());
        await Assert.That(unset.Signer).IsNull();
        await Assert.That(unset.Problem).IsNull();

        using var rig = new Rig();
        rig.Write("# nothing here yet");
        using var keys = rig.Open();
        await Assert.That(keys.Signer).IsNull();
        await Assert.That(keys.Problem).IsNull();
    }

    [Test]
    public async Task A_change_is_picked_up_by_the_poll()
    {
        using var rig = new Rig();
        string a = WebhookSignerTests.NewSecret(), b = WebhookSignerTests.NewSecret();
        rig.Write(a);
        using var keys = rig.Open();
        await Assert.That(keys.Signer!.Count).IsEqualTo(1);

        rig.Write(a, b);
        await Assert.That(keys.Signer!.Count).IsEqualTo(1);
        rig.Time.Advance(SigningKeys.PollInterval);
        await Assert.That(keys.Signer!.Count).IsEqualTo(2);

        rig.Write("# signing paused");
        rig.Time.Advance(SigningKeys.PollInterval);
        await Assert.That(keys.Signer).IsNull();
    }

    [Test]
    public async Task A_bad_line_keeps_the_previous_set_and_is_logged_without_the_secret()
    {
        using var rig = new Rig();
        var good = WebhookSignerTests.NewSecret();
        var tooShort = WebhookSigner.SecretPrefix + Convert.ToBase64String(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 });
        rig.Write(good);
        using var keys = rig.Open();
        var before = Sign(keys);

        rig.Write("# rotated", good, tooShort);
        rig.Time.Advance(SigningKeys.PollInterval);

        await Assert.That(Sign(keys)).IsEqualTo(before);
        await Assert.That(keys.Problem).IsEqualTo($"SIGNING_KEYS_FILE {rig.File} line 3: the secret decodes to 10 bytes; it must be 24 to 64");
        await Assert.That(rig.Log.All).Contains("line 3");
        await Assert.That(rig.Log.All).Contains("keeping the previous 1 signing secret(s)");
        await Assert.That(rig.Log.All).DoesNotContain(tooShort[6..]);
        await Assert.That(rig.Log.All).DoesNotContain(good[6..]);

        rig.Write(good);
        keys.Reload(force: true); // what SIGHUP does
        await Assert.That(keys.Problem).IsNull();
    }

    [Test]
    public async Task A_missing_file_at_start_is_a_problem_to_stop_on()
    {
        using var rig = new Rig();
        using var keys = rig.Open();
        await Assert.That(keys.Signer).IsNull();
        await Assert.That(keys.Problem).IsEqualTo($"SIGNING_KEYS_FILE {rig.File} does not exist");
    }

    [Test]
    public async Task A_file_deleted_later_keeps_the_secrets()
    {
        using var rig = new Rig();
        rig.Write(WebhookSignerTests.NewSecret());
        using var keys = rig.Open();
        File.Delete(rig.File);
        rig.Time.Advance(SigningKeys.PollInterval);
        await Assert.That(keys.Signer!.Count).IsEqualTo(1);
        await Assert.That(keys.Problem).IsNotNull();
    }
}
