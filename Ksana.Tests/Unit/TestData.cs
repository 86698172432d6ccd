using Ksana.Scheduling;
using Ksana.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Ksana.Tests.Unit;

/// <summary>A data directory of a test's own, deleted afterwards.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ksana-test-" + Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public string Journal => System.IO.Path.Combine(Path, Storage.Journal.FileName);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A scheduler over a real journal, driven by a fake clock and a scripted delivery.</summary>
public sealed class Rig : IDisposable
{
    public static readonly DateTimeOffset T0 = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public FakeTimeProvider Time { get; }
    public DataDir Data { get; }
    public Scheduler Scheduler { get; }
    public Jobs Jobs { get; }
    public List<(RunTicket Ticket, DateTimeOffset At)> Calls { get; } = [];
    public Func<RunTicket, Task<RunOutcome>> Deliver { get; set; } = _ => Task.FromResult(new RunOutcome(RunStatus.Succeeded, null));

    public Rig(string dir, FakeTimeProvider? time = null, long compactionSlackBytes = 8 << 20)
    {
        Time = time ?? new FakeTimeProvider(T0);
        Data = DataDir.Open(dir, 20, 100_000, NullLogger.Instance, compactionSlackBytes);
        Scheduler = new Scheduler(Data.Store, Time, NullLogger<Scheduler>.Instance, ticket =>
        {
            lock (Calls) Calls.Add((ticket, Time.GetUtcNow()));
            return Deliver(ticket);
        });
        Jobs = new Jobs(Data.Store, Scheduler, Time);
        Jobs.RecoverAsync().GetAwaiter().GetResult();
    }

    public static JobSpec Every(TimeSpan every, DateTimeOffset? startAt = null) =>
        new("job", true, new HttpTarget("POST", "http://127.0.0.1:1/hook", [], ""), Schedule.EveryInterval(every, startAt),
            TimeSpan.FromSeconds(10), 0, TimeSpan.FromSeconds(1));

    public static JobSpec Once(DateTimeOffset runAt) => Every(TimeSpan.FromSeconds(1)) with { Schedule = Schedule.OnceAt(runAt) };

    /// <summary>Moves the clock forward in steps, ticking after each, then waits for the runs started.</summary>
    public async Task AdvanceAsync(TimeSpan by, TimeSpan? step = null)
    {
        var s = step ?? TimeSpan.FromMilliseconds(100);
        for (var done = TimeSpan.Zero; done < by; done += s)
        {
            Time.Advance(s);
            // Runs finish in real time on the thread pool; let them, so the fake clock cannot outrun them.
            if (Scheduler.Tick() > 0) await Scheduler.IdleAsync();
        }
        await Scheduler.IdleAsync();
        await Data.Journal.FlushAsync();
    }

    public List<DateTimeOffset> Fired(Guid jobId)
    {
        lock (Calls) return Calls.Where(c => c.Ticket.Job.Id == jobId).Select(c => c.Ticket.ScheduledAt).ToList();
    }

    public Run[] Runs(Guid jobId) => Data.Store.Get(jobId)?.Runs ?? [];

    public void Dispose() => Data.Dispose();
}
