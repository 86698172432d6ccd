using System.Collections;
using Ksana.Cluster;
using Ksana.Hosting;
using Npgsql;

namespace Ksana.Tests.Unit.Cluster;

/// <summary>SPEC §12's settings: DATABASE_URL, NODE_NAME, LEASE_TTL.</summary>
public class ClusterSettingsTests
{
    static (Settings? Settings, string Error) Load(params (string, string)[] env)
    {
        var table = new Hashtable();
        foreach (var (k, v) in env) table[k] = v;
        var settings = Settings.Load([], table, out var error);
        return (settings, error);
    }

    [Test]
    public async Task Without_a_database_url_the_journal_stays_the_default()
    {
        var (settings, _) = Load();
        await Assert.That(settings!.DatabaseUrl).IsNull();
        await Assert.That(settings.LeaseTtl).IsEqualTo(Duration.FromSeconds(10));
        await Assert.That(settings.NodeName).IsEqualTo($"{Environment.MachineName}-{Environment.ProcessId}");
    }

    [Test]
    public async Task A_postgres_url_becomes_a_connection_with_its_parts_decoded()
    {
        var b = new NpgsqlConnectionStringBuilder(DatabaseUrl.ConnectionString("postgres://ks%40na:p%3Ass@db.example:6543/sched?sslmode=require"));
        await Assert.That(b.Host).IsEqualTo("db.example");
        await Assert.That(b.Port).IsEqualTo(6543);
        await Assert.That(b.Username).IsEqualTo("ks@na");
        await Assert.That(b.Password).IsEqualTo("p:ss");
        await Assert.That(b.Database).IsEqualTo("sched");
        await Assert.That(b.SslMode).IsEqualTo(SslMode.Require);

        var socket = new NpgsqlConnectionStringBuilder(DatabaseUrl.ConnectionString("postgresql://ksana@localhost/db?host=/run/postgresql"));
        await Assert.That(socket.Host).IsEqualTo("/run/postgresql");
        await Assert.That(socket.Port).IsEqualTo(5432);
    }

    [Test]
    [Arguments("mysql://u:secret-pw@h/db")]
    [Arguments("postgres://u:secret-pw@h/")]
    [Arguments("postgres://u:secret-pw@h/db?sslmode=maybe")]
    [Arguments("postgres://u:secret-pw@h/db?pool=9")]
    [Arguments("not a url secret-pw")]
    public async Task A_bad_database_url_is_refused_without_echoing_it(string url)
    {
        var (settings, error) = Load(("DATABASE_URL", url));
        await Assert.That(settings).IsNull();
        await Assert.That(error).StartsWith("DATABASE_URL: ");
        await Assert.That(error).DoesNotContain("secret-pw");
    }

    [Test]
    [Arguments("LEASE_TTL", "500ms")]
    [Arguments("LEASE_TTL", "10m")]
    [Arguments("LEASE_TTL", "soon")]
    [Arguments("NODE_NAME", " ")]
    public async Task Bad_cluster_settings_are_refused_naming_the_variable(string variable, string value)
    {
        var (settings, error) = Load((variable, value));
        await Assert.That(settings).IsNull();
        await Assert.That(error).StartsWith($"{variable}=");
    }

    [Test]
    public async Task The_password_is_hidden_in_logs()
    {
        await Assert.That(DatabaseUrl.Redacted("postgres://ksana:hunter2@db:5432/k")).IsEqualTo("postgres://ksana:***@db:5432/k");
        await Assert.That(DatabaseUrl.Redacted("postgres://ksana@db:5432/k")).IsEqualTo("postgres://ksana@db:5432/k");
    }

    [Test]
    public async Task Partitions_spread_random_job_ids_evenly()
    {
        var counts = new int[Schema.Partitions];
        for (var i = 0; i < 256_000; i++) counts[Schema.PartOf(Guid.NewGuid())]++;
        await Assert.That(counts.Min()).IsGreaterThan(800);
        await Assert.That(counts.Max()).IsLessThan(1200);
    }
}
