using System.Buffers.Text;
using System.Text;
using System.Text.Json;
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
        var r = new Cursor(line);
        if (!r.Literal("{\"seq\":"u8) || !r.Number(18, out seq) || !r.Literal(",\"op\":\"job\",\"job\":{\"id\":\""u8)
            || !r.Raw(out var idText) || !Utf8Parser.TryParse(idText, out Guid id, out var used, 'D') || used != idText.Length || id == Guid.Empty)
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
            || !r.Literal(",\"timeout\":\""u8) || !r.Raw(out var timeoutText) || !DurationOf(timeoutText, out var timeout))
            return false;

        var maxRetries = 0;
        if (r.Literal(",\"max_retries\":"u8) && !r.Int(out maxRetries)) return false;
        if (!r.Literal(",\"retry_backoff\":\""u8) || !r.Raw(out var backoffText) || !DurationOf(backoffText, out var backoff)) return false;
        var pauseAfter = 0;
        if (r.Literal(",\"pause_after_failures\":"u8) && !r.Int(out pauseAfter)) return false;

        if (!r.Literal(",\"created_at\":\""u8) || !r.Raw(out var createdText) || !TimeOf(createdText, out var created)
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
        // The checksum was verified before (LineEncoder.Verify); here only the line's shape is.
        if (!r.Literal("},\"crc\":\""u8) || !r.Raw(out var crc) || crc.Length != 8 || !r.Literal("}"u8) || !r.AtEnd) return false;

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

    static bool DurationOf(ReadOnlySpan<byte> text, out Duration duration)
    {
        duration = default;
        Span<char> chars = stackalloc char[TextMax];
        return Widen(text, chars, out var n) && Duration.TryParse(chars[..n], out duration, out _);
    }

    static bool TimeOf(ReadOnlySpan<byte> text, out DateTimeOffset time)
    {
        time = default;
        Span<char> chars = stackalloc char[TextMax];
        return Widen(text, chars, out var n) && Rfc3339.TryParse(chars[..n], out time, out _);
    }

    /// <summary>Longest time or duration read here, as <see cref="JsonRead"/> reads them.</summary>
    const int TextMax = 64;

    /// <summary>An ASCII text as chars, without decoding; false when it is longer than <paramref name="chars"/> or not ASCII.</summary>
    static bool Widen(ReadOnlySpan<byte> text, Span<char> chars, out int length)
    {
        length = 0;
        return text.Length <= chars.Length && Ascii.ToUtf16(text, chars, out length) == System.Buffers.OperationStatus.Done;
    }

    /// <summary>A string's bytes that stand for themselves in JSON: no control character, and UTF-8.</summary>
    static bool Plain(ReadOnlySpan<byte> text) =>
        text.IndexOfAnyInRange((byte)0, (byte)0x1F) < 0 && System.Text.Unicode.Utf8.IsValid(text);

    /// <summary>A job not changed since it was made has one time three times: read once.</summary>
    static bool SameOr(ReadOnlySpan<byte> text, ReadOnlySpan<byte> before, DateTimeOffset beforeTime, out DateTimeOffset time)
    {
        if (text.SequenceEqual(before))
        {
            time = beforeTime;
            return true;
        }
        return TimeOf(text, out time);
    }

    static readonly System.Buffers.SearchValues<byte> ObjectBytes = System.Buffers.SearchValues.Create("}\\{["u8);

    /// <summary>A position in the line, moved on by each match; a failed match leaves it where it was.</summary>
    ref struct Cursor(ReadOnlySpan<byte> line)
    {
        readonly ReadOnlySpan<byte> _line = line;
        int _at;

        public readonly bool AtEnd => _at == _line.Length;

        public bool Literal(ReadOnlySpan<byte> expected)
        {
            if (!_line[_at..].StartsWith(expected)) return false;
            _at += expected.Length;
            return true;
        }

        /// <summary>
        /// A string's bytes up to its closing quote (the opening one already matched), which is passed
        /// over. Declined when it holds an escape or a control character (the JSON reader's business)
        /// or is not UTF-8.
        /// </summary>
        public bool Raw(out ReadOnlySpan<byte> text)
        {
            text = default;
            var rest = _line[_at..];
            var end = rest.IndexOfAny((byte)'"', (byte)'\\');
            if (end < 0 || rest[end] != (byte)'"') return false;
            text = rest[..end];
            if (!Plain(text)) return false;
            _at += end + 1;
            return true;
        }

        /// <summary>
        /// A string value (the opening quote already matched, the closing one passed over). One
        /// without escapes is taken as it stands; one with escapes is unescaped by the JSON reader
        /// itself, over the string alone, so that it reads exactly as it would in the whole line.
        /// </summary>
        public bool Text(out string value)
        {
            value = "";
            var rest = _line[_at..];
            var end = rest.IndexOfAny((byte)'"', (byte)'\\');
            if (end < 0) return false;
            if (rest[end] == (byte)'"')
            {
                var text = rest[..end];
                if (!Plain(text)) return false;
                value = Encoding.UTF8.GetString(text);
                _at += end + 1;
                return true;
            }
            // Escaped: the closing quote is the first one not after a backslash.
            while (rest[end] == (byte)'\\')
            {
                end += 2;
                var next = end < rest.Length ? rest[end..].IndexOfAny((byte)'"', (byte)'\\') : -1;
                if (next < 0) return false;
                end += next;
            }
            try
            {
                var reader = new Utf8JsonReader(_line[(_at - 1)..(_at + end + 1)]);
                if (!reader.Read() || reader.TokenType != JsonTokenType.String) return false;
                value = reader.GetString()!;
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                // A bad escape, or one that is not UTF-16: the whole line's reader refuses it as well.
                return false;
            }
            _at += end + 1;
            return true;
        }

        /// <summary>A number as the writer writes one: digits, no sign, no leading zero, at most <paramref name="digitsMax"/>.</summary>
        public bool Number(int digitsMax, out long value)
        {
            value = 0;
            var rest = _line[_at..];
            var n = rest.IndexOfAnyExceptInRange((byte)'0', (byte)'9');
            if (n < 0) n = rest.Length;
            // A fraction or exponent after the digits fails the literal that must follow them.
            if (n == 0 || n > digitsMax || (n > 1 && rest[0] == (byte)'0')) return false;
            foreach (var digit in rest[..n]) value = value * 10 + (digit - '0');
            _at += n;
            return true;
        }

        public bool Int(out int value)
        {
            value = 0;
            if (!Number(10, out var number) || number > int.MaxValue) return false;
            value = (int)number;
            return true;
        }

        /// <summary>An object of strings only (a schedule): its bytes, braces included; declined when anything in it is escaped or nested.</summary>
        public bool FlatObject(out ReadOnlySpan<byte> text)
        {
            text = default;
            var rest = _line[_at..];
            if (rest.IsEmpty || rest[0] != (byte)'{') return false;
            // The first of these after the opening brace must be the closing one. Should that one
            // stand inside a string, the bytes up to it are no whole object, and so no schedule the
            // memo holds: the memo keeps only objects the JSON reader read whole.
            var close = rest[1..].IndexOfAny(ObjectBytes);
            if (close < 0 || rest[1 + close] != (byte)'}') return false;
            text = rest[..(close + 2)];
            _at += close + 2;
            return true;
        }
    }
}
