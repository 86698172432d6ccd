using Microsoft.AspNetCore.Http.HttpResults;
using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Ksana.Hosting;
using Ksana.Scheduling;
using Ksana.Storage;

namespace Ksana.Http;

/// <summary>The management API of SPEC §4. Handlers validate, call <see cref="Jobs"/>, and map the answer.</summary>
public static class JobsApi
{
    public const int ListLimitDefault = 100;
    public const int ListLimitMax = 1000;

    public static void MapJobs(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/jobs");
        jobs.MapPost("", Create);
        jobs.MapGet("", List);
        jobs.MapGet("/{id}", Get);
        jobs.MapPatch("/{id}", Patch);
        jobs.MapDelete("/{id}", Delete);
        jobs.MapPost("/{id}/run-now", RunNow);
        jobs.MapPost("/{id}/pause", Pause);
        jobs.MapPost("/{id}/resume", Resume);
        jobs.MapGet("/{id}/runs", Runs);
    }

    static JobView View(Jobs jobs, Job job, Run[] runs) => JobView.From(new JobEntry(job, runs), jobs.NextRunAt(job));

    static JobView View(Jobs jobs, Job job) => View(jobs, job, jobs.Get(job.Id)?.Runs ?? []);

    static async Task<Results<Created<JobView>, ValidationProblem, ProblemHttpResult>> Create(
        HttpRequest request, Jobs jobs, Settings settings)
    {
        var (json, problem) = await RequestBody.ReadJsonAsync(request);
        if (problem is not null) return problem;
        var (spec, errors) = JobRequest.Validate(json, settings, jobs.Now());
        if (spec is null) return Problems.Invalid(errors);
        var job = await jobs.CreateAsync(spec);
        return TypedResults.Created($"/jobs/{job.Id}", View(jobs, job, []));
    }

    static Results<Ok<JobList>, ValidationProblem> List(Jobs jobs, string? limit, string? cursor, string? state, string? name)
    {
        var errors = new Dictionary<string, string[]>();
        var size = ListLimitDefault;
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, null, out size) || size < 1 || size > ListLimitMax))
            errors["limit"] = [$"must be a whole number from 1 to {ListLimitMax}"];
        JobState? wanted = state switch
        {
            null => null,
            "scheduled" => JobState.Scheduled,
            "paused" => JobState.Paused,
            "completed" => JobState.Completed,
            "missed" => JobState.Missed,
            _ => Invalid(errors, "state", "must be one of scheduled, paused, completed, missed"),
        };
        (long, Guid)? after = null;
        if (cursor is not null)
        {
            after = DecodeCursor(cursor);
            if (after is null) errors["cursor"] = ["is not a cursor this server gave out (use next_cursor from the previous page)"];
        }
        if (errors.Count > 0) return Problems.Invalid(errors);

        var (page, more) = jobs.List(new JobQuery(size, after, wanted, name));
        var list = new JobList { Jobs = new List<JobView>(page.Count) };
        foreach (var entry in page) list.Jobs.Add(View(jobs, entry.Job, entry.Runs));
        list.NextCursor = more && page.Count > 0 ? EncodeCursor(page[^1].Job) : null;
        return TypedResults.Ok(list);
    }

    static JobState? Invalid(Dictionary<string, string[]> errors, string field, string message)
    {
        errors[field] = [message];
        return null;
    }

    /// <summary>Cursor: base64url of the last job's created_at ticks and id: stable under inserts and deletes.</summary>
    static string EncodeCursor(Job job)
    {
        Span<byte> raw = stackalloc byte[24];
        BinaryPrimitives.WriteInt64BigEndian(raw, job.CreatedAt.UtcTicks);
        job.Id.TryWriteBytes(raw[8..]);
        return Convert.ToBase64String(raw).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    static (long, Guid)? DecodeCursor(string cursor)
    {
        if (cursor.Length != 32) return null;
        Span<byte> raw = stackalloc byte[24];
        var text = cursor.Replace('-', '+').Replace('_', '/');
        if (!Convert.TryFromBase64String(text, raw, out var n) || n != 24) return null;
        return (BinaryPrimitives.ReadInt64BigEndian(raw), new Guid(raw[8..]));
    }

    static Results<Ok<JobView>, ProblemHttpResult> Get(string id, Jobs jobs) =>
        Guid.TryParse(id, out var guid) && jobs.Get(guid) is { } entry
            ? TypedResults.Ok(View(jobs, entry.Job, entry.Runs))
            : Problems.NoJob(id);

    static async Task<Results<Ok<JobView>, ValidationProblem, ProblemHttpResult>> Patch(
        string id, HttpRequest request, Jobs jobs, Settings settings)
    {
        if (!Guid.TryParse(id, out var guid) || jobs.Get(guid) is null) return Problems.NoJob(id);
        var (json, problem) = await RequestBody.ReadJsonAsync(request);
        if (problem is not null) return problem;
        if (json is not JsonObject patch)
            return Problems.Invalid(new() { ["$"] = ["a PATCH body must be a JSON object (a JSON merge patch, RFC 7396)"] });

        Dictionary<string, string[]>? errors = null;
        var scheduleGiven = patch["schedule"] is not null;
        var job = await jobs.UpdateAsync(guid, current =>
        {
            var merged = JobPatch.Merge(JobPatch.ClientDocument(current), patch);
            var (spec, invalid) = JobRequest.Validate(merged, settings, jobs.Now(), checkRunAt: scheduleGiven);
            errors = spec is null ? invalid : null;
            return spec is null ? null : new JobChange(spec, scheduleGiven);
        });
        if (errors is not null) return Problems.Invalid(errors);
        return job is null ? Problems.NoJob(id) : TypedResults.Ok(View(jobs, job));
    }

    static async Task<Results<NoContent, ProblemHttpResult>> Delete(string id, Jobs jobs) =>
        Guid.TryParse(id, out var guid) && await jobs.DeleteAsync(guid) ? TypedResults.NoContent() : Problems.NoJob(id);

    static async Task<Results<Accepted<RunStarted>, ProblemHttpResult>> RunNow(string id, Jobs jobs)
    {
        if (!Guid.TryParse(id, out var guid)) return Problems.NoJob(id);
        var (result, runId) = await jobs.RunNowAsync(guid);
        return result switch
        {
            Jobs.RunNowResult.Started => TypedResults.Accepted($"/jobs/{id}/runs", new RunStarted { RunId = runId! }),
            Jobs.RunNowResult.AlreadyRunning => Problems.Status(StatusCodes.Status409Conflict,
                runId is null
                    ? "Ksana is shutting down and starts no new runs"
                    : $"run {runId} of this job is still in flight; runs of one job never overlap"),
            _ => Problems.NoJob(id),
        };
    }

    static async Task<Results<Ok<JobView>, ProblemHttpResult>> Pause(string id, Jobs jobs) =>
        Guid.TryParse(id, out var guid) && await jobs.PauseAsync(guid) is { } job ? TypedResults.Ok(View(jobs, job)) : Problems.NoJob(id);

    static async Task<Results<Ok<JobView>, ProblemHttpResult>> Resume(string id, Jobs jobs) =>
        Guid.TryParse(id, out var guid) && await jobs.ResumeAsync(guid) is { } job ? TypedResults.Ok(View(jobs, job)) : Problems.NoJob(id);

    static Results<Ok<RunList>, ProblemHttpResult> Runs(string id, Jobs jobs)
    {
        if (!Guid.TryParse(id, out var guid) || jobs.Get(guid) is not { } entry) return Problems.NoJob(id);
        var list = new RunList { Runs = new List<RunDocument>(entry.Runs.Length) };
        foreach (var run in entry.Runs) list.Runs.Add(RecordMapping.ToDocument(run));
        return TypedResults.Ok(list);
    }
}
