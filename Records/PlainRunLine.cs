using Ksana.Scheduling;
using Ksana.Wire;

namespace Ksana.Records;

/// <summary>
/// Replay's short road for run lines, the mirror of <see cref="PlainJobLine"/>: a run line exactly
/// as <see cref="RunCodec.Write{TOut}"/> writes it for the journal (no nulls, members in the
/// writer's order), matched as literal bytes. Anything else is declined, and
/// <see cref="Storage.LineDecoder"/> reads the line with the JSON reader as before; a test holds
/// the two side by side.
/// </summary>
/// <remarks>
/// Why: a journal of jobs that have run is mostly run lines (each compaction writes up to
/// RUNS_KEPT of them a job), and at start-up their reading by the JSON reader was about a third of
/// all the CPU before ready.
/// </remarks>
public static class PlainRunLine
{
    /// <summary>The run of a plain run line and the line's sequence number; false when the line is not one.</summary>
    public static bool TryRead(ReadOnlySpan<byte> line, out long seq, out Run? run)
    {
        run = null;
        seq = 0;
        var r = new LineCursor(line);
        if (!r.Literal("{\"seq\":"u8) || !r.Number(18, out seq) || !r.Literal(",\"op\":\"run\",\"run\":{\"run_id\":\""u8)
            || !r.Guid('N', out var runId) || !r.Literal(",\"job_id\":\""u8) || !r.Guid('D', out var jobId)
            || !r.Literal(",\"trigger\":\""u8))
            return false;
        RunTrigger trigger;
        if (r.Literal("schedule\""u8)) trigger = RunTrigger.Schedule;
        else if (r.Literal("manual\""u8)) trigger = RunTrigger.Manual;
        else return false;
        if (!r.Literal(",\"status\":\""u8) || !r.Raw(out var statusText) || !Names.TryParseUtf8(statusText, out var status)
            || !r.Literal(",\"scheduled_at\":\""u8) || !r.Time(out var scheduled, out var scheduledText))
            return false;
        DateTimeOffset? finished = null;
        if (r.Literal(",\"finished_at\":\""u8))
        {
            if (!r.Time(out var at, out _)) return false;
            finished = at;
        }
        string? error = null;
        if (r.Literal(",\"error\":\""u8) && !r.Text(out error)) return false;
        var replays = 0;
        if (r.Literal(",\"replays\":"u8) && !r.Int(out replays)) return false;
        if (!r.Literal(",\"attempts\":["u8)) return false;

        Attempt[] attempts = [];
        if (!r.Literal("]"u8))
        {
            // Most runs took one attempt: no list for them.
            if (!Attempt(ref r, scheduledText, scheduled, out var first)) return false;
            if (r.Literal("]"u8)) attempts = [first];
            else
            {
                var more = new List<Attempt> { first };
                while (r.Literal(","u8))
                {
                    if (!Attempt(ref r, scheduledText, scheduled, out var next)) return false;
                    more.Add(next);
                }
                if (!r.Literal("]"u8)) return false;
                attempts = [.. more];
            }
        }
        if (!r.Literal("}"u8) || !r.CrcAndEnd()) return false;
        run = RunCodec.Made(runId, jobId, trigger, status, scheduled, finished, attempts, error, replays);
        return true;
    }

    /// <summary>One attempt object; its start is most often the run's scheduled time, read once.</summary>
    static bool Attempt(ref LineCursor r, ReadOnlySpan<byte> scheduledText, DateTimeOffset scheduled, out Attempt attempt)
    {
        attempt = default;
        if (!r.Literal("{\"attempt\":"u8) || !r.Int(out var number) || !r.Literal(",\"started_at\":\""u8) || !r.Raw(out var startedText))
            return false;
        DateTimeOffset started;
        if (startedText.SequenceEqual(scheduledText)) started = scheduled;
        else if (!LineCursor.TimeOf(startedText, out started)) return false;
        if (!r.Literal(",\"duration_ms\":"u8) || !r.Number(18, out var duration)) return false;
        int? code = null;
        if (r.Literal(",\"status_code\":"u8))
        {
            if (!r.Int(out var c)) return false;
            code = c;
        }
        string? error = null, response = null;
        if (r.Literal(",\"error\":\""u8) && !r.Text(out error)) return false;
        if (r.Literal(",\"response\":\""u8) && !r.Text(out response)) return false;
        if (!r.Literal("}"u8)) return false;
        attempt = new Attempt(number, started, duration, code, error, response);
        return true;
    }
}
