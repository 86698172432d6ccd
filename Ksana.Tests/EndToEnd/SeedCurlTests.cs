using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Ksana.Tests.EndToEnd;

/// <summary>
/// The user's own document (seed/usage-examples.zh.md): every curl line in it, run verbatim by bash
/// against the binary on :7100. The only exception the SPEC allows is the once example, whose
/// run_at has passed: verbatim it must be the 400 naming schedule.run_at, and with a future
/// run_at it must be created.
/// </summary>
public sealed class SeedCurlTests
{
    const string SeedKey = "your-api-key-here";
    const string SeedRunAt = "2025-09-20T03:00:00Z";

    [Test]
    [NotInParallel("port7100")]
    public async Task Every_curl_line_of_the_seed_works_verbatim()
    {
        var commands = ExtractCurlCommands(File.ReadAllText(SeedPath()));
        // 2 header illustrations (ending in "...") and 10 management calls.
        await Assert.That(commands.Count).IsEqualTo(12).Because(string.Join("\n---\n", commands));

        using var dir = new TempDir();
        EnsurePort7100Free();
        await using var ksana = await KsanaProcess.StartAsync(7100, dir.Data, dir.WriteKeys(SeedKey));
        var curlHome = WriteCurlrc(dir);

        string? jobId = null;
        foreach (var verbatim in commands)
        {
            // The two header examples end in "..." (whatever request the reader makes): make it a list.
            var command = verbatim.EndsWith(" ...") ? verbatim[..^4] + " http://localhost:7100/jobs" : verbatim;
            if (command.Contains("<job_id>"))
            {
                await Assert.That(jobId).IsNotNull().Because("the seed uses <job_id> before creating a job");
                command = command.Replace("<job_id>", jobId);
            }
            var (status, body) = await RunCurlAsync(command, curlHome);
            var because = $"command:\n{command}\nanswer {status}: {body}";

            if (command.Contains("-X POST http://localhost:7100/jobs ") && command.Contains("\"kind\": \"once\""))
            {
                await Assert.That(status).IsEqualTo(400).Because(because);
                var errors = JsonNode.Parse(body)!["errors"];
                await Assert.That(errors!.AsObject().ContainsKey("schedule.run_at")).IsTrue().Because(because);
                await Assert.That(errors.AsObject().Count).IsEqualTo(1).Because("only run_at is wrong: " + because);

                // The same body with a future run_at is created as written.
                var futureText = Rfc3339.Format(JobDocs.WholeSecondAfter(TimeSpan.FromDays(1)));
                var (createdStatus, createdBody) = await RunCurlAsync(command.Replace(SeedRunAt, futureText), curlHome);
                await Assert.That(createdStatus).IsEqualTo(201).Because($"future run_at: {createdBody}");
                var once = JsonNode.Parse(createdBody)!;
                await Assert.That(once!["schedule"]!["run_at"]?.GetValue<string>()).IsEqualTo(futureText);
                await Assert.That(once!["state"]?.GetValue<string>()).IsEqualTo("scheduled");
                await Assert.That(once!["http"]!["body"]?.GetValue<string>())
                    .IsEqualTo("{\n  \"event\": \"build.done\",\n  \"payload\": {\"id\": 123}\n}");
                continue;
            }

            await Assert.That(status).IsEqualTo(ExpectedStatus(command)).Because(because);
            if (command.Contains("-X POST http://localhost:7100/jobs "))
            {
                var job = JsonNode.Parse(body)!;
                jobId = job!["id"]?.GetValue<string>();
                await Assert.That(job!["schedule"]!["every"]?.GetValue<string>()).IsEqualTo("5m0s");
                await Assert.That(job!["state"]?.GetValue<string>()).IsEqualTo("scheduled");
            }
            else if (command.Contains("-X PATCH"))
            {
                var job = JsonNode.Parse(body)!;
                await Assert.That(job!["enabled"]?.GetValue<bool>()).IsFalse().Because(because);
                await Assert.That(job!["state"]?.GetValue<string>()).IsEqualTo("paused").Because(because);
            }
            else if (command.EndsWith("/run-now"))
            {
                var runId = JsonNode.Parse(body)!["run_id"]?.GetValue<string>()!;
                await Assert.That(Regex.IsMatch(runId, "^[0-9a-f]{32}$")).IsTrue().Because(because);
            }
            else if (command.EndsWith("/resume"))
            {
                await Assert.That(JsonNode.Parse(body)!["state"]?.GetValue<string>()).IsEqualTo("scheduled").Because(because);
            }
            else if (command.EndsWith("/health"))
            {
                await Assert.That(body).IsEqualTo("{\"status\":\"ok\"}");
            }
        }
        await Assert.That(jobId).IsNotNull();
    }

    static int ExpectedStatus(string command) => command switch
    {
        _ when command.Contains("-X POST http://localhost:7100/jobs ") => 201,
        _ when command.Contains("-X DELETE") => 204,
        _ when command.EndsWith("/run-now") => 202,
        _ => 200, // list, get, patch, pause, resume, health, and the header examples
    };

    /// <summary>
    /// Every curl command in the markdown's code blocks, exactly as written: a command goes on past
    /// a line ending in a backslash or inside an open quote (the -d bodies span lines), as bash reads it.
    /// </summary>
    public static List<string> ExtractCurlCommands(string markdown)
    {
        var commands = new List<string>();
        var inBlock = false;
        string? current = null;
        foreach (var raw in markdown.Replace("\r\n", "\n").Split('\n'))
        {
            if (current is null && raw.TrimStart().StartsWith("```"))
            {
                inBlock = !inBlock;
                continue;
            }
            if (!inBlock) continue;
            if (current is null)
            {
                if (!raw.StartsWith("curl ")) continue;
                current = raw;
            }
            else
            {
                current += "\n" + raw;
            }
            if (IsComplete(current))
            {
                commands.Add(current);
                current = null;
            }
        }
        if (current is not null) throw new InvalidOperationException($"unterminated command in the seed:\n{current}");
        return commands;
    }

    /// <summary>Whether bash would stop reading here: no open quote and no trailing line continuation.</summary>
    static bool IsComplete(string command)
    {
        char? quote = null;
        for (var i = 0; i < command.Length; i++)
        {
            var c = command[i];
            if (quote == '\'') { if (c == '\'') quote = null; continue; }
            if (c == '\\') { if (i + 1 == command.Length) return false; i++; continue; }
            if (quote == '"') { if (c == '"') quote = null; continue; }
            if (c is '\'' or '"') quote = c;
        }
        return quote is null;
    }

    /// <summary>
    /// curl reads $CURL_HOME/.curlrc, so the status code is reported without touching the command
    /// text: the body, then a newline and the code.
    /// </summary>
    static string WriteCurlrc(TempDir dir)
    {
        var home = dir.Combine("curl-home");
        Directory.CreateDirectory(home);
        File.WriteAllText(Path.Combine(home, ".curlrc"), "silent\nshow-error\nmax-time = 20\nwrite-out = \"\\n%{http_code}\"\n");
        return home;
    }

    static async Task<(int Status, string Body)> RunCurlAsync(string command, string curlHome)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        info.Environment["CURL_HOME"] = curlHome;
        info.Environment.Remove("XDG_CONFIG_HOME");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token);
        var output = await stdout;
        var newline = output.LastIndexOf('\n');
        if (process.ExitCode != 0 || newline < 0 || !int.TryParse(output[(newline + 1)..], out var status))
            throw new InvalidOperationException($"curl failed (exit {process.ExitCode}): {await stderr}\n{output}\ncommand:\n{command}");
        return (status, output[..newline]);
    }

    static void EnsurePort7100Free()
    {
        try
        {
            var probe = new TcpListener(IPAddress.Any, 7100);
            probe.Start();
            probe.Stop();
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException(
                "port 7100 is in use by another process; the seed's curl lines name http://localhost:7100, so this test needs it free", e);
        }
    }

    /// <summary>The copy of the user's document kept with the tests (and, when it is around, checked against the original).</summary>
    static string SeedPath()
    {
        string? copy = null, original = null;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var c = Path.Combine(d.FullName, "Ksana.Tests", "EndToEnd", "seed", "usage-examples.zh.md");
            var c2 = Path.Combine(d.FullName, "EndToEnd", "seed", "usage-examples.zh.md");
            copy ??= File.Exists(c) ? c : File.Exists(c2) ? c2 : null;
            var o = Path.Combine(d.FullName, "shared", "seed", "usage-examples.zh.md");
            original ??= File.Exists(o) ? o : null;
        }
        if (copy is not null && original is not null && File.ReadAllText(copy) != File.ReadAllText(original))
            throw new InvalidOperationException($"{copy} differs from the user's document {original}: copy it again");
        return copy ?? original ?? throw new FileNotFoundException(
            "seed/usage-examples.zh.md not found above " + AppContext.BaseDirectory);
    }
}
