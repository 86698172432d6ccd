using System.Text.Json;
using Ksana.Scheduling;
using Ksana.Wire;
using static Ksana.Records.JsonRead;

namespace Ksana.Records;

/// <summary>
/// A remembered answer (Idempotency-Key, SPEC §4) as the journal keeps it:
/// <c>{"caller":"…","key":"…","request":"…","at":"…Z","status":201,"location":"/jobs/…","type":"application/json","body":"…"}</c>,
/// <c>location</c> left out when there was none.
/// </summary>
public static class AnswerCodec
{
    public static void Write(Utf8JsonWriter w, RememberedAnswer answer)
    {
        w.WriteStartObject();
        w.WriteString("caller"u8, answer.Caller);
        w.WriteString("key"u8, answer.Key);
        w.WriteString("request"u8, answer.Request);
        w.WriteString("at"u8, Rfc3339.Format(answer.At));
        w.WriteNumber("status"u8, answer.Status);
        if (answer.Location is { } location) w.WriteString("location"u8, location);
        w.WriteString("type"u8, answer.ContentType);
        w.WriteString("body"u8, answer.Body);
        w.WriteEndObject();
    }

    /// <summary>Reads one answer; the reader is on its StartObject.</summary>
    public static RememberedAnswer Read(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new FormatException("answer: not an object");
        string? caller = null, key = null, request = null, location = null, type = null, body = null;
        DateTimeOffset? at = null;
        int? status = null;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("caller"u8)) caller = String(ref reader, "caller");
            else if (reader.ValueTextEquals("key"u8)) key = String(ref reader, "key");
            else if (reader.ValueTextEquals("request"u8)) request = String(ref reader, "request");
            else if (reader.ValueTextEquals("at"u8)) at = Time(ref reader, "at");
            else if (reader.ValueTextEquals("status"u8))
            {
                Next(ref reader);
                status = reader.TokenType == JsonTokenType.Number ? reader.GetInt32() : throw new FormatException("status: not a number");
            }
            else if (reader.ValueTextEquals("location"u8)) location = String(ref reader, "location");
            else if (reader.ValueTextEquals("type"u8)) type = String(ref reader, "type");
            else if (reader.ValueTextEquals("body"u8)) body = String(ref reader, "body");
            else throw Unknown(ref reader);
        }
        if (caller is null || key is null || request is null || at is null || status is null || type is null || body is null)
            throw new FormatException("answer: incomplete");
        return new RememberedAnswer(caller, key, request, at.Value, status.Value, location, type, body);
    }
}
