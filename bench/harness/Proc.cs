using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace KsanaBench;

/// <summary>The few libc calls .NET does not expose: signals other than SIGKILL, and the clock tick.</summary>
static partial class Native
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int SIGUSR1 = 10;
    const int _SC_CLK_TCK = 2;

    [DllImport("libc", SetLastError = true)]
    public static extern int kill(int pid, int sig);

    [DllImport("libc")]
    static extern long sysconf(int name);

    public static readonly long ClockTicksPerSecond = Math.Max(1, sysconf(_SC_CLK_TCK));
}

/// <summary>Reads a process's CPU time and memory from /proc.</summary>
static class ProcFs
{
    /// <summary>utime + stime of the whole process (all threads, live and exited), in seconds.</summary>
    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name (field 2) may contain spaces; everything after the last ')' is fixed.
        var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // rest[0] is field 3 (state); utime is field 14, stime field 15.
        long utime = long.Parse(rest[11], CultureInfo.InvariantCulture);
        long stime = long.Parse(rest[12], CultureInfo.InvariantCulture);
        return (utime + stime) / (double)Native.ClockTicksPerSecond;
    }

    /// <summary>VmRSS and VmHWM in KiB (0 when the process is gone).</summary>
    public static (long RssKb, long HwmKb) Memory(int pid)
    {
        long rss = 0, hwm = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = ParseKb(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = ParseKb(line);
            }
        }
        catch (IOException) { }
        return (rss, hwm);

        static long ParseKb(string line) =>
            long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    public static bool Alive(int pid) => File.Exists($"/proc/{pid}/stat") && !IsZombie(pid);

    static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] == 'Z';
        }
        catch (IOException) { return false; }
    }

    /// <summary>Bytes of a file or of everything under a directory (symlinks not followed).</summary>
    public static long DiskBytes(string path)
    {
        if (File.Exists(path)) return new FileInfo(path).Length;
        if (!Directory.Exists(path)) return 0;
        long total = 0;
        foreach (var f in new DirectoryInfo(path).EnumerateFiles("*", new EnumerationOptions
                 { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true }))
            total += f.Length;
        return total;
    }
}

/// <summary>
/// A process the harness started. Each one is recorded as a file named after its PID in
/// the run directory's pids/ folder, so that bench/run.sh's EXIT trap can end it even if
/// the harness itself dies; the file is removed once the process has been reaped.
/// </summary>
sealed class Child : IDisposable
{
    static readonly List<Child> Live = [];
    static string? pidDir;

    public Process Process { get; }
    public int Pid { get; }
    public string Name { get; }
    readonly StreamWriter? log;
    readonly object logLock = new();

    Child(Process p, string name, StreamWriter? log)
    {
        Process = p; Pid = p.Id; Name = name; this.log = log;
        if (pidDir is not null) File.WriteAllText(Path.Combine(pidDir, Pid.ToString(CultureInfo.InvariantCulture)), name + "\n");
        lock (Live) Live.Add(this);
    }

    public static void Init(string runDir)
    {
        pidDir = Path.Combine(runDir, "pids");
        Directory.CreateDirectory(pidDir);
    }

    /// <summary>Starts a program with the given environment additions; output goes to logPath.</summary>
    public static Child Start(string name, string fileName, IEnumerable<string> args, IDictionary<string, string?> env,
        string? logPath, string? workDir = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = logPath is not null,
            RedirectStandardError = logPath is not null,
            RedirectStandardInput = false,
            WorkingDirectory = workDir ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env)
        {
            if (v is null) psi.Environment.Remove(k);
            else psi.Environment[k] = v;
        }
        StreamWriter? w = logPath is null ? null : new StreamWriter(logPath, append: true) { AutoFlush = true };
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        var c = new Child(p, name, w);
        if (w is not null)
        {
            p.OutputDataReceived += (_, e) => c.Log(e.Data);
            p.ErrorDataReceived += (_, e) => c.Log(e.Data);
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
        }
        return c;
    }

    void Log(string? line)
    {
        if (line is null || log is null) return;
        lock (logLock) { try { log.WriteLine(line); } catch (ObjectDisposedException) { } }
    }

    public bool HasExited => Process.HasExited;

    public void Signal(int sig) { if (!Process.HasExited) Native.kill(Pid, sig); }

    /// <summary>SIGTERM, then SIGKILL after the grace period. Returns the exit code and whether SIGTERM sufficed.</summary>
    public (int? ExitCode, bool Graceful, double Seconds) Stop(TimeSpan grace)
    {
        var sw = Stopwatch.StartNew();
        if (Process.HasExited) return (SafeExitCode(), true, 0);
        Signal(Native.SIGTERM);
        bool graceful = Process.WaitForExit(grace);
        if (!graceful)
        {
            Signal(Native.SIGKILL);
            Process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        var secs = sw.Elapsed.TotalSeconds;
        Dispose();
        return (SafeExitCode(), graceful, secs);
    }

    public void KillHard()
    {
        Signal(Native.SIGKILL);
        Process.WaitForExit(TimeSpan.FromSeconds(10));
    }

    int? SafeExitCode()
    {
        try { return Process.HasExited ? Process.ExitCode : null; } catch (InvalidOperationException) { return null; }
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Signal(Native.SIGKILL);
            Process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        else Process.WaitForExit(TimeSpan.FromSeconds(2)); // lets the async output readers drain
        lock (logLock) { log?.Dispose(); }
        if (pidDir is not null) File.Delete(Path.Combine(pidDir, Pid.ToString(CultureInfo.InvariantCulture)));
        lock (Live) Live.Remove(this);
    }

    /// <summary>Ends every process still running; used on SIGINT/SIGTERM and at exit.</summary>
    public static void KillAll()
    {
        Child[] all;
        lock (Live) all = [.. Live];
        foreach (var c in all) { try { c.Dispose(); } catch (Exception) { } }
    }
}
