using System.Text.Json;
using Ksana.Wire;

namespace Ksana.Scheduling.Schedules;

/// <summary><c>{"kind":"every","every":"5m"}</c>, with start_at, end_at, jitter (at most every) and catch_up.</summary>
public sealed class EveryCodec : ScheduleCodec
{
    public static readonly EveryCodec Instance = new();

    public override string Kind => "every";
    public override string[] Members { get; } = ["every", "start_at", "end_at", "jitter", "catch_up"];
    public override string Example => "{\"kind\": \"every\", \"every\": \"5m\"}";

    protected override Schedule? ReadKind(ScheduleFields fields, ScheduleOptions options)
    {
        var every = fields.Duration("every", true, EverySchedule.EveryMin, EverySchedule.EveryMax);
        if (every is { } e && options.Jitter > e) fields.Error("jitter", $"must not be more than every ({e})");
        return every is null ? null : new EverySchedule(every.Value, options);
    }

    protected override void WriteKind(Utf8JsonWriter w, Schedule schedule) =>
        GoDuration.Write(w, "every"u8, ((EverySchedule)schedule).Every.Nanoseconds);
}
