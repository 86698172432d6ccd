using Ksana.Scheduling;
using Ksana.Scheduling.Schedules;
using Ksana.Wire;
using Ksana.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Ksana.Tests.Unit;

/// <summary>A scheduler over a real journal, driven by a fake clock and a scripted outbound side.</summary>
public sealed class Rig : IDisposable
{
    public static readonly DateTimeOffset T0 = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly AttemptOutcome Ok = new(AttemptResult.Succeeded, 200, null);

    public FakeTimeProvider Time { get; }
    public DataDir Data { get; }
    public Runner Runner { get; }
    public Scheduler Scheduler { get; }
    public Jobs Jobs { get; }

    /// <summary>Every attempt sent: the run it belonged to (while it was in flight) and the fake time.</summary>
    public List<(RunInFlight Run, AttemptRequest Request, DateTimeOffset At)> Calls { get; } = [];
    public Func<AttemptRequest, Task<AttemptOutcome>> Send { get; set; } = _ => Task.FromResult(Ok);

    public Rig(string dir, FakeTimeProvider? time = null, long compactionSlackBytes = 8 << 20, bool eventsOn = false,
        int workers = 32, int readyMax = 1000, ILogger<Runner>? runnerLog = null, ILogger<Scheduler>? schedulerLog = null)
    {
        Time = time ?? new FakeTimeProvider(T0);
        Data = DataDir.Open(dir, 20, 100_000, NullLogger.Instance, compactionSlackBytes);
        Runner = new Runner(Data.Table, Time, runnerLog ?? NullLogger<Runner>.Instance, (request, _) =>
        {
            var jobId = Guid.Parse(request.Headers.First(h => h.Key == "X-Ksana-Job-Id").Value);
            lock (Calls) Calls.Add((Runner!.InFlight(jobId)!, request, Time.GetUtcNow()));
            return Send(request);
        }, workers: workers, userAgent: "ksana/test") { EventsOn = eventsOn, ReadyMax = readyMax };
        Scheduler = new Scheduler(Data.Table, Runner, Time, schedulerLog ?? NullLogger<Scheduler>.Instance);
        Jobs = new Jobs(Data.Table, Runner, Time);
        Jobs.RecoverAsync(Scheduler).GetAwaiter().GetResult();
    }

    public static JobSpec Every(TimeSpan every, DateTimeOffset? startAt = null) =>
        new("job", true, new HttpTarget("POST", "http://127.0.0.1:1/hook", [], ""),
            new EverySchedule(Duration.FromTimeSpan(every), startAt is null ? ScheduleOptions.None : ScheduleOptions.None with { StartAt = startAt }),
            Duration.FromSeconds(10), 0, Duration.FromSeconds(1));

    public static JobSpec Once(DateTimeOffset runAt) => Every(TimeSpan.FromSeconds(1)) with { Schedule = new OnceSchedule(runAt, ScheduleOptions.None) };

    public static JobSpec Cron(string expression, string zone = "UTC", ScheduleOptions? options = null)
    {
        if (!Scheduling.Cron.CronExpression.TryParse(expression, out var parsed, out var why)) throw new ArgumentException(why);
        if (!Scheduling.Cron.TimeZones.TryFind(zone, out var tz, out why)) throw new ArgumentException(why);
        return Every(TimeSpan.FromSeconds(1)) with { Schedule = new CronSchedule(parsed!, tz!, options ?? ScheduleOptions.None) };
    }

    /// <summary>Creates a job, which must succeed.</summary>
    public async Task<Job> CreateAsync(JobSpec spec) => (await Jobs.CreateAsync(spec)).Value ?? throw new InvalidOperationException("create refused");

    /// <summary>Moves the clock forward in steps, ticking after each, then waits for the runs started.</summary>
    public async Task AdvanceAsync(TimeSpan by, TimeSpan? step = null)
    {
        var s = step ?? TimeSpan.FromMilliseconds(100);
        for (var done = TimeSpan.Zero; done < by; done += s)
        {
            Time.Advance(s);
            // Runs finish in real time on the thread pool; let them, so the fake clock cannot outrun them.
            if (Scheduler.Tick() > 0) await Runner.IdleAsync();
        }
        await Runner.IdleAsync();
        await Data.Journal.FlushAsync();
    }

    /// <summary>The slots of <paramref name="jobId"/> whose first attempt was sent.</summary>
    public List<DateTimeOffset> Fired(Guid jobId)
    {
        lock (Calls) return Calls.Where(c => c.Run.Job.Id == jobId && c.Request.Headers.Any(h => h is { Key: "X-Ksana-Attempt", Value: "1" }))
            .Select(c => c.Run.ScheduledAt).ToList();
    }

    public Run[] Runs(Guid jobId) => Data.Table.Get(jobId)?.Runs.ToArray() ?? [];

    public void Dispose() => Data.Dispose();
}
