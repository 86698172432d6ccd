using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ksana.Records;
using Ksana.Scheduling;

namespace Ksana.Http;

/// <summary>PATCH as a JSON merge patch (RFC 7396) over the job's client fields.</summary>
public static class JobPatch
{
    /// <summary>
    /// The client-written fields of a job, in the form a client would send them, secrets masked as a
    /// GET shows them: the patch is merged over what the client could have read, and validation then
    /// puts the stored secrets back wherever "****" is left (<see cref="JobRequest.Validate"/>).
    /// </summary>
    public static JsonObject ClientDocument(Job job)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            JobCodec.WriteClientFields(w, Trust.Secrets.Masked(job.Spec));
            w.WriteEndObject();
        }
        return JsonNode.Parse(buffer.WrittenSpan)!.AsObject();
    }

    /// <summary>
    /// RFC 7396 MergePatch(target, patch), with one convenience: a schedule patch that names a
    /// different kind replaces the schedule instead of merging into it, so switching "every" to
    /// "once" does not need an explicit "every": null.
    /// </summary>
    public static JsonNode? Merge(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
                continue;
            }
            var current = result[key];
            if (key == "schedule" && value is JsonObject s && current is JsonObject c
                && s["kind"]?.ToString() is { } kind && c["kind"]?.ToString() != kind)
                current = null;
            var merged = Merge(current, value);
            result.Remove(key);
            result[key] = merged;
        }
        return result;
    }
}
