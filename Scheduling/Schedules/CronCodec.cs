using System.Text.Json;
using Ksana.Scheduling.Cron;
using Ksana.Wire;

namespace Ksana.Scheduling.Schedules;

/// <summary>
/// <c>{"kind":"cron","cron":"30 2 * * MON-FRI","time_zone":"Europe/Berlin"}</c>, with start_at, end_at,
/// jitter and catch_up. The expression is kept as given; the zone defaults to UTC and is always
/// written back, so a job read later says which wall clock it follows.
/// </summary>
public sealed class CronCodec : ScheduleCodec
{
    public static readonly CronCodec Instance = new();

    public override string Kind => "cron";
    public override string[] Members { get; } = ["cron", "time_zone", "start_at", "end_at", "jitter", "catch_up"];
    public override string Example => "{\"kind\": \"cron\", \"cron\": \"30 2 * * MON-FRI\", \"time_zone\": \"Europe/Berlin\"}";

    protected override Schedule? ReadKind(ScheduleFields fields, ScheduleOptions options)
    {
        var text = fields.Text("cron", required: true);
        CronExpression? expression = null;
        if (text is not null && !CronExpression.TryParse(text, out expression, out var why)) fields.Error("cron", why!);
        var zoneName = fields.Text("time_zone", required: false) ?? TimeZones.DefaultName;
        if (!TimeZones.TryFind(zoneName, out var zone, out var unknown)) fields.Error("time_zone", unknown!);
        if (expression is null || zone is null) return null;
        var schedule = new CronSchedule(expression, zone, options);
        // A window that holds no fire time would make a job that never runs: refused at the API like
        // an expression that never matches. Journal records (CheckPast false) are taken as written.
        if (fields.CheckPast && options.EndAt is { } end && !fields.HasErrors)
        {
            var first = options.StartAt is { } start && start > fields.Now ? start : fields.Now;
            if (schedule.SlotAfter(first.AddTicks(-1), fields.Now) is null)
                fields.Error("end_at", $"the cron expression has no fire time from {Rfc3339.Format(first)} to end_at ({Rfc3339.Format(end)}) in {zone.Id}");
        }
        return schedule;
    }

    protected override void WriteKind(Utf8JsonWriter w, Schedule schedule)
    {
        var cron = (CronSchedule)schedule;
        w.WriteString("cron"u8, cron.Expression.Text);
        w.WriteString("time_zone"u8, cron.TimeZone.Id);
    }
}
