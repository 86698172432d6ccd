using System.Text.Json.Nodes;
using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Http;

/// <summary>PATCH as a JSON merge patch (RFC 7396) over the job's client fields.</summary>
public static class JobPatch
{
    /// <summary>The client-written fields of a job, in the form a client would send them.</summary>
    public static JsonObject ClientDocument(Job job)
    {
        var spec = job.Spec;
        var headers = new JsonObject();
        foreach (var (k, v) in spec.Http.Headers) headers[k] = v;
        var schedule = new JsonObject { ["kind"] = spec.Schedule.Kind == ScheduleKind.Every ? "every" : "once" };
        if (spec.Schedule.Kind == ScheduleKind.Every)
        {
            schedule["every"] = RecordMapping.Duration(spec.Schedule.Every);
            if (spec.Schedule.StartAt is { } s) schedule["start_at"] = Rfc3339.Format(s);
        }
        else
        {
            schedule["run_at"] = Rfc3339.Format(spec.Schedule.RunAt);
        }
        return new JsonObject
        {
            ["name"] = spec.Name,
            ["enabled"] = spec.Enabled,
            ["type"] = "http",
            ["http"] = new JsonObject
            {
                ["method"] = spec.Http.Method,
                ["url"] = spec.Http.Url,
                ["headers"] = headers,
                ["body"] = spec.Http.Body,
            },
            ["schedule"] = schedule,
            ["timeout"] = RecordMapping.Duration(spec.Timeout),
            ["max_retries"] = spec.MaxRetries,
            ["retry_backoff"] = RecordMapping.Duration(spec.RetryBackoff),
        };
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
