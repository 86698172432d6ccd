using System.Text.Json;
using Ksana.Records;
using Ksana.Scheduling;
using static Ksana.Records.JsonRead;

namespace Ksana.Storage;

/// <summary>
/// Reads a journal line (format: see <see cref="Journal"/>) straight from its UTF-8 bytes into a
/// <see cref="Change"/>, with the record codecs the writer uses. Any member it does not know is an
/// error, so damage that keeps the checksum (impossible in practice) or a newer format is never
/// half-read.
/// </summary>
public static class LineDecoder
{
    /// <remarks>
    /// A job read here gets its line's sequence number as its <see cref="Job.Version"/> (written
    /// first on every line): numbers that rise in file order, known without reading the lines
    /// before, so chunks of the journal decode side by side and the table need not copy a job to
    /// number it.
    /// </remarks>
    /// <param name="memo">The schedules this replay has read (see <see cref="ScheduleMemo"/>); none by default.</param>
    public static (long Seq, Change Change) Decode(ReadOnlySpan<byte> line, ScheduleMemo? memo = null)
    {
        // Replay's common lines, read without the JSON reader when they are written plainly.
        if (memo is not null)
        {
            if (PlainRunLine.TryRead(line, out var runSeq, out var plainRun)) return (runSeq, Change.Recorded(plainRun!));
            if (PlainJobLine.TryRead(line, memo, out var jobSeq, out var plainJob)) return (jobSeq, Change.Written(plainJob!));
        }
        var reader = new Utf8JsonReader(line);
        Expect(ref reader, JsonTokenType.StartObject);
        long seq = 0;
        var op = 0; // 1 job, 2 del, 3 run, 4 event, 5 delivered, 6 idem
        Job? job = null;
        Run? run = null;
        RememberedAnswer? answer = null;
        var deleted = System.Guid.Empty;
        var jobId = System.Guid.Empty;
        Event? queued = null;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("seq"u8)) { Next(ref reader); seq = reader.GetInt64(); }
            else if (reader.ValueTextEquals("op"u8))
            {
                Next(ref reader);
                op = reader.ValueTextEquals("job"u8) ? 1 : reader.ValueTextEquals("del"u8) ? 2 : reader.ValueTextEquals("run"u8) ? 3
                    : reader.ValueTextEquals("event"u8) ? 4 : reader.ValueTextEquals("delivered"u8) ? 5
                    : reader.ValueTextEquals("idem"u8) ? 6
                    : throw new FormatException("op: unknown operation");
            }
            else if (reader.ValueTextEquals("job"u8)) { Next(ref reader); job = JobCodec.ReadRecord(ref reader, seq, line, memo); }
            else if (reader.ValueTextEquals("id"u8)) deleted = JsonRead.Guid(ref reader, "id", op == 5 ? 'N' : 'D');
            else if (reader.ValueTextEquals("job_id"u8)) jobId = JsonRead.Guid(ref reader, "job_id");
            else if (reader.ValueTextEquals("event"u8)) { Next(ref reader); queued = EventCodec.Read(ref reader); }
            else if (reader.ValueTextEquals("run"u8)) { Next(ref reader); run = RunCodec.Read(ref reader); }
            else if (reader.ValueTextEquals("idem"u8)) { Next(ref reader); answer = AnswerCodec.Read(ref reader); }
            else if (reader.ValueTextEquals("crc"u8)) Next(ref reader);
            else throw Unknown(ref reader);
        }
        return op switch
        {
            1 when job is not null => (seq, Change.Written(job)),
            2 when deleted != System.Guid.Empty => (seq, Change.Removed(deleted)),
            3 when run is not null => (seq, Change.Recorded(run)),
            4 when queued is not null => (seq, Change.Queued(queued)),
            5 when deleted != System.Guid.Empty && jobId != System.Guid.Empty => (seq, Change.Delivered(jobId, deleted)),
            6 when answer is not null => (seq, Change.Remembered(answer)),
            _ => throw new FormatException("incomplete record"),
        };
    }
}
