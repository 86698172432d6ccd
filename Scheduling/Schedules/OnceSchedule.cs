namespace Ksana.Scheduling.Schedules;

/// <summary>One slot at <see cref="RunAt"/>; the job is completed after it, or missed (SPEC §2).</summary>
public sealed record OnceSchedule(DateTimeOffset RunAt, ScheduleOptions Options) : Schedule(Options)
{
    public override string Kind => "once";

    public override bool FiresOnce => true;

    protected override DateTimeOffset? KindSlotAfter(DateTimeOffset t, DateTimeOffset origin) => RunAt > t ? RunAt : null;
}
