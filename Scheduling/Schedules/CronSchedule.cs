using Ksana.Scheduling.Cron;

namespace Ksana.Scheduling.Schedules;

/// <summary>
/// A cron expression read on the wall clock of <see cref="TimeZone"/> (SPEC §7). The expression and
/// the zone are shared, immutable objects; the schedule is equal to another with the same text, zone
/// and options, so a job read back from the journal equals the job that was written.
/// </summary>
public sealed record CronSchedule(CronExpression Expression, TimeZoneInfo TimeZone, ScheduleOptions Options) : Schedule(Options)
{
    public override string Kind => "cron";

    public override TimeZoneInfo Zone => TimeZone;

    /// <summary>The first fire time strictly after both <paramref name="t"/> and the time the schedule was set.</summary>
    protected override DateTimeOffset? KindSlotAfter(DateTimeOffset t, DateTimeOffset origin) =>
        Expression.NextAfter(t < origin ? origin : t, TimeZone);

    public bool Equals(CronSchedule? other) =>
        other is not null && Expression.Text == other.Expression.Text && TimeZone.Id == other.TimeZone.Id && Options == other.Options;

    public override int GetHashCode() => HashCode.Combine(Expression.Text, TimeZone.Id, Options);
}
