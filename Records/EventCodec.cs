using System.Text.Json;
using Ksana.Scheduling;
using Ksana.Wire;
using static Ksana.Records.JsonRead;

namespace Ksana.Records;

/// <summary>
/// An event (SPEC §9): <c>{"id","type","at","job":{"id","key","name"},"run":{…}}</c>. The body posted
/// to EVENTS_URL and the journal's record of a queued event are the same JSON, written here.
/// </summary>
public static class EventCodec
{
    public static void Write(Utf8JsonWriter w, Event e, bool withNulls)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, e.IdText);
        w.WriteString("type"u8, e.Type);
        Rfc3339.Write(w, "at"u8, e.At);
        w.WriteStartObject("job"u8);
        w.WriteString("id"u8, e.JobId);
        if (e.JobKey is { } key) w.WriteString("key"u8, key);
        else w.WriteNull("key"u8);
        w.WriteString("name"u8, e.JobName);
        w.WriteEndObject();
        w.WritePropertyName("run"u8);
        RunCodec.Write(w, e.Run, withNulls);
        w.WriteEndObject();
    }

    /// <summary>Reads what <see cref="Write"/> wrote, the reader on the object's start.</summary>
    public static Event Read(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new FormatException("event: not an object");
        Guid id = default, jobId = default;
        string type = "", name = "";
        string? key = null;
        DateTimeOffset at = default;
        Run? run = null;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8)) id = JsonRead.Guid(ref reader, "id", 'N');
            else if (reader.ValueTextEquals("type"u8)) type = String(ref reader, "type");
            else if (reader.ValueTextEquals("at"u8)) at = Time(ref reader, "at");
            else if (reader.ValueTextEquals("run"u8)) { Next(ref reader); run = RunCodec.Read(ref reader); }
            else if (reader.ValueTextEquals("job"u8))
            {
                Expect(ref reader, JsonTokenType.StartObject);
                while (Next(ref reader) == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("id"u8)) jobId = JsonRead.Guid(ref reader, "job.id");
                    else if (reader.ValueTextEquals("name"u8)) name = String(ref reader, "job.name");
                    else if (reader.ValueTextEquals("key"u8)) { Next(ref reader); key = reader.TokenType == JsonTokenType.Null ? null : reader.GetString(); }
                    else throw Unknown(ref reader);
                }
            }
            else throw Unknown(ref reader);
        }
        if (id == default || jobId == default || run is null) throw new FormatException("event: id, job or run missing");
        return new Event(id, type, at, jobId, key, name, run);
    }
}
