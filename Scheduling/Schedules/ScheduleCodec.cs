using System.Text.Json;
using Ksana.Wire;

namespace Ksana.Scheduling.Schedules;

/// <summary>
/// Reads, validates and writes one kind of schedule, for the API and the journal alike: the
/// schedule object is the same JSON in both. Adding a kind is a schedule type, a codec, and a line
/// in <see cref="All"/>.
/// </summary>
public abstract class ScheduleCodec
{
    public static readonly ScheduleCodec[] All = [EveryCodec.Instance, OnceCodec.Instance, CronCodec.Instance];

    static readonly Duration JitterMax = Wire.Duration.FromSeconds(3600);
    static readonly Duration CatchUpMax = Wire.Duration.FromSeconds(366L * 24 * 3600);

    public abstract string Kind { get; }

    /// <summary>The members this kind allows besides <c>kind</c>, its own and the options.</summary>
    public abstract string[] Members { get; }

    /// <summary>An example shown when the schedule is missing or has no kind.</summary>
    public abstract string Example { get; }

    /// <summary>Reads the kind's own members; errors go to <paramref name="fields"/>.</summary>
    protected abstract Schedule? ReadKind(ScheduleFields fields, ScheduleOptions options);

    /// <summary>Writes the kind's own members (not <c>kind</c>, not the options).</summary>
    protected abstract void WriteKind(Utf8JsonWriter w, Schedule schedule);

    public static ScheduleCodec? Find(string kind)
    {
        foreach (var codec in All)
            if (codec.Kind == kind) return codec;
        return null;
    }

    public static string Kinds => string.Join(", ", All.Select(c => $"\"{c.Kind}\""));

    /// <summary>Reads a whole schedule object: its kind, every member it allows, and nothing else.</summary>
    public static Schedule? Read(ScheduleFields fields)
    {
        var kind = fields.Text("kind", required: true);
        if (kind is null) return null;
        var codec = Find(kind);
        if (codec is null)
        {
            fields.Error("kind", $"must be one of {Kinds}, not \"{kind}\"");
            return null;
        }
        for (var i = 0; i < fields.Count; i++)
            if (fields.NameAt(i) is var name && name != "kind" && Array.IndexOf(codec.Members, name) < 0)
                fields.Error(name, $"is not a field of a \"{kind}\" schedule (allowed: kind, {string.Join(", ", codec.Members)})");
        var options = codec.ReadOptions(fields);
        var schedule = codec.ReadKind(fields, options);
        return fields.HasErrors || schedule is null ? null : Shared(schedule);
    }

    [ThreadStatic] static Schedule? _lastRead;

    /// <summary>
    /// The schedule last read on this thread when it equals <paramref name="schedule"/>, else
    /// <paramref name="schedule"/>. Jobs made together, or read back together, often share a
    /// schedule (<c>"every": "1m"</c>, <c>0 * * * *</c> in one zone); schedules are immutable, so
    /// they can share the instance, one object fewer per job for as long as the job lives.
    /// </summary>
    static Schedule Shared(Schedule schedule)
    {
        if (_lastRead is { } last && last.Equals(schedule)) return last;
        _lastRead = schedule;
        return schedule;
    }

    ScheduleOptions ReadOptions(ScheduleFields fields)
    {
        var startAt = Allows("start_at") ? fields.Time("start_at", required: false) : null;
        var endAt = Allows("end_at") ? fields.Time("end_at", required: false) : null;
        if (startAt is { } s && endAt is { } e && e <= s) fields.Error("end_at", "must be after start_at");
        if (endAt is { } end && fields.CheckPast && end < fields.Now - ScheduleFields.PastTolerance)
            fields.Error("end_at", $"end_at is in the past ({Rfc3339.Format(end)}; now is {Rfc3339.Format(fields.Now)})");
        var jitter = Allows("jitter") ? fields.Duration("jitter", false, Wire.Duration.Zero, JitterMax) : null;
        var catchUp = Allows("catch_up") ? fields.Duration("catch_up", false, new Duration(1), CatchUpMax) : null;
        return startAt is null && endAt is null && jitter is null && catchUp is null
            ? ScheduleOptions.None
            : new ScheduleOptions(startAt, endAt, jitter ?? Wire.Duration.Zero, catchUp);
    }

    bool Allows(string member) => Array.IndexOf(Members, member) >= 0;

    /// <summary>Writes a whole schedule object.</summary>
    public static void Write(Utf8JsonWriter w, Schedule schedule)
    {
        var codec = Find(schedule.Kind) ?? throw new InvalidOperationException($"no codec for schedule kind {schedule.Kind}");
        w.WriteStartObject();
        w.WriteString("kind"u8, schedule.Kind);
        codec.WriteKind(w, schedule);
        var o = schedule.Options;
        if (o.StartAt is { } start) Rfc3339.Write(w, "start_at"u8, start);
        if (o.EndAt is { } end) Rfc3339.Write(w, "end_at"u8, end);
        if (o.Jitter != Wire.Duration.Zero) GoDuration.Write(w, "jitter"u8, o.Jitter.Nanoseconds);
        if (o.CatchUp is { } catchUp) GoDuration.Write(w, "catch_up"u8, catchUp.Nanoseconds);
        w.WriteEndObject();
    }
}
