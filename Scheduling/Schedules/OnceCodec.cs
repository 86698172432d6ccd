using System.Text.Json;
using Ksana.Wire;

namespace Ksana.Scheduling.Schedules;

/// <summary><c>{"kind":"once","run_at":"2030-01-01T00:00:00Z"}</c>, with catch_up.</summary>
public sealed class OnceCodec : ScheduleCodec
{
    public static readonly OnceCodec Instance = new();

    public override string Kind => "once";
    public override string[] Members { get; } = ["run_at", "catch_up"];
    public override string Example => "{\"kind\": \"once\", \"run_at\": \"2030-01-01T00:00:00Z\"}";

    protected override Schedule? ReadKind(ScheduleFields fields, ScheduleOptions options)
    {
        var runAt = fields.Time("run_at", required: true);
        if (runAt is { } r && fields.CheckPast && r < fields.Now - ScheduleFields.PastTolerance)
            fields.Error("run_at", $"run_at is in the past ({Rfc3339.Format(r)}; now is {Rfc3339.Format(fields.Now)})");
        return runAt is null ? null : new OnceSchedule(runAt.Value, options);
    }

    protected override void WriteKind(Utf8JsonWriter w, Schedule schedule) =>
        Rfc3339.Write(w, "run_at"u8, ((OnceSchedule)schedule).RunAt);
}
