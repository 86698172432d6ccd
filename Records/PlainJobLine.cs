using System.Text;
using Ksana.Scheduling;
using Ksana.Scheduling.Schedules;
using Ksana.Wire;

namespace Ksana.Records;

/// <summary>
/// Replay's short road for the line it reads most: a job line exactly as <see cref="JobCodec.WriteRecord"/>
/// writes it, whose schedule this replay has read before (<see cref="ScheduleMemo"/>). Its members
/// are matched as literal bytes, in the order they are written. A string without escapes is taken
/// as it stands; one with escapes (the writer escapes quotes, non-ASCII and &amp;, say) is unescaped
/// by the JSON reader over that string alone. Anything else (a member out of place or unknown, a
/// number not written as the writer writes it, an id, time or duration not written plainly, a
/// schedule not yet in the memo) is declined, and <see cref="Storage.LineDecoder"/> reads the line
/// with the JSON reader as before. So this reads nothing that reader would read differently; a
/// test holds the two side by side.
/// </summary>
/// <remarks>
/// Why: at start-up with 100 000 jobs, the JSON reader's per-token work (its string scans above
/// all) was about a quarter of all the CPU before ready. A job line has some 30 tokens, and most of
/// them are the same bytes in every line.
/// </remarks>
public static class PlainJobLine
{
    /// <summary>The job of a plain job line with its line's sequence number as version; false when the line is not one.</summary>
    public static bool TryRead(ReadOnlySpan<byte> line, ScheduleMemo memo, out long seq, out Job? job)
    {
        job = null;
        seq = 0;
        var r = new LineCursor(line);
        if (!r.Literal("{\"seq\":"u8) || !r.Number(18, out seq) || !r.Literal(",\"op\":\"job\",\"job\":{\"id\":\""u8)
            || !r.Guid('D', out var id))
            return false;

        string? key = null;
        if (r.Literal(",\"key\":\""u8))
        {
            if (!r.Text(out key)) return false;
        }
        if (!r.Literal(",\"name\":\""u8) || !r.Text(out var name) || !r.Literal(",\"enabled\":"u8)) return false;
        bool enabled;
        if (r.Literal("true"u8)) enabled = true;
        else if (r.Literal("false"u8)) enabled = false;
        else return false;
        if (!r.Literal(",\"type\":\"http\",\"http\":{\"method\":\""u8) || !r.Raw(out var methodText) || Method(methodText) is not { } method
            || !r.Literal(",\"url\":\""u8) || !r.Text(out var url) || url.Length == 0)
            return false;
        List<KeyValuePair<string, string>>? headers = null;
        if (r.Literal(",\"headers\":{"u8) && !r.Literal("}"u8))
        {
            headers = [];
            do
            {
                if (!r.Literal("\""u8) || !r.Text(out var header) || !r.Literal(":\""u8) || !r.Text(out var headerValue)) return false;
                headers.Add(new(header, headerValue));
            }
            while (r.Literal(","u8));
            if (!r.Literal("}"u8)) return false;
        }
        var body = "";
        if (r.Literal(",\"body\":\""u8) && !r.Text(out body)) return false;
        if (!r.Literal("},\"schedule\":"u8) || !r.FlatObject(out var scheduleText) || memo.Find(scheduleText) is not { } schedule
            || !r.Literal(",\"timeout\":\""u8) || !r.Raw(out var timeoutText) || !LineCursor.DurationOf(timeoutText, out var timeout))
            return false;

        var maxRetries = 0;
        if (r.Literal(",\"max_retries\":"u8) && !r.Int(out maxRetries)) return false;
        if (!r.Literal(",\"retry_backoff\":\""u8) || !r.Raw(out var backoffText) || !LineCursor.DurationOf(backoffText, out var backoff)) return false;
        var pauseAfter = 0;
        if (r.Literal(",\"pause_after_failures\":"u8) && !r.Int(out pauseAfter)) return false;

        if (!r.Literal(",\"created_at\":\""u8) || !r.Raw(out var createdText) || !LineCursor.TimeOf(createdText, out var created)
            || !r.Literal(",\"updated_at\":\""u8) || !r.Raw(out var updatedText) || !SameOr(updatedText, createdText, created, out var updated)
            || !r.Literal(",\"grid_origin\":\""u8) || !r.Raw(out var originText) || !SameOr(originText, updatedText, updated, out var origin))
            return false;

        var once = OnceOutcome.Pending;
        if (r.Literal(",\"once\":\""u8))
        {
            if (r.Literal("fired\""u8)) once = OnceOutcome.Fired;
            else if (r.Literal("missed\""u8)) once = OnceOutcome.Missed;
            else return false;
        }
        string? pausedReason = null;
        if (r.Literal(",\"paused_reason\":\""u8) && !r.Text(out pausedReason)) return false;
        int streak = 0, streakAtResume = 0;
        if (r.Literal(",\"failure_streak\":"u8) && !r.Int(out streak)) return false;
        if (r.Literal(",\"streak_at_resume\":"u8) && !r.Int(out streakAtResume)) return false;
        if (!r.Literal("}"u8) || !r.CrcAndEnd()) return false;

        var spec = new JobSpec(name, enabled, new HttpTarget(method, url, headers is null ? [] : headers.ToArray(), body), schedule, timeout, maxRetries, backoff)
        {
            Key = key, PauseAfterFailures = pauseAfter,
        };
        job = new Job(id, spec, created, updated, origin, once, seq) { PausedReason = pausedReason, FailureStreak = streak, StreakAtResume = streakAtResume };
        return true;
    }

    static string? Method(ReadOnlySpan<byte> text)
    {
        foreach (var method in HttpTarget.Methods)
            if (Ascii.Equals(text, method)) return method;
        return null;
    }

    /// <summary>A job not changed since it was made has one time three times: read once.</summary>
    static bool SameOr(ReadOnlySpan<byte> text, ReadOnlySpan<byte> before, DateTimeOffset beforeTime, out DateTimeOffset time)
    {
        if (text.SequenceEqual(before))
        {
            time = beforeTime;
            return true;
        }
        return LineCursor.TimeOf(text, out time);
    }
}
