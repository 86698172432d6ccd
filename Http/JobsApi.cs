using Microsoft.AspNetCore.Http.HttpResults;
using System.Text.Json.Nodes;
using Ksana.Hosting;
using Ksana.Http.Trust;
using Ksana.Scheduling;
using Ksana.Wire;

namespace Ksana.Http;

/// <summary>The management API of SPEC §4. Handlers validate, call <see cref="Jobs"/>, and map the answer.</summary>
public static class JobsApi
{
    public static void MapJobs(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/jobs");
        jobs.MapPost("", Create).WithIdempotency();
        jobs.MapGet("", List);
        jobs.MapGet("/{id}", Get);
        jobs.MapPatch("/{id}", Patch);
        jobs.MapDelete("/{id}", Delete);
        jobs.MapPost("/{id}/run-now", RunNow).WithIdempotency();
        jobs.MapPost("/{id}/pause", Pause);
        jobs.MapPost("/{id}/resume", Resume);
        jobs.MapGet("/{id}/runs", Runs);
        jobs.MapGet("/by-key/{key}", GetByKey);
        jobs.MapPut("/by-key/{key}", PutByKey);
    }

    /// <summary>The job as the API shows it, with its newest run copied out of <paramref name="entry"/>'s rows now, not when the answer is written.</summary>
    static JobView View(Jobs jobs, Job job, JobEntry? entry) =>
        new(new JobEntry(job, entry?.ReadRuns(static runs => runs.Newest) ?? default), jobs.NextRunAt(job));

    static JobView View(Jobs jobs, Job job) => View(jobs, job, jobs.Get(job.Id));

    static async Task<Results<Created<JobView>, ValidationProblem, ProblemHttpResult>> Create(
        HttpRequest request, Jobs jobs, Settings settings, OutboundRules outbound)
    {
        var (body, problem) = await RequestBody.ReadDocumentAsync(request);
        if (body is null) return problem!;
        JobSpec? spec;
        Dictionary<string, string[]> errors;
        using (body) (spec, errors) = JobRequest.Validate(body.Root, settings, jobs.Now(), outbound: outbound.Current);
        if (spec is null) return Problems.Invalid(errors);
        var created = await jobs.CreateAsync(spec.Value);
        if (created.Value is not { } job) return Problems.Refused(created, "");
        return TypedResults.Created($"/jobs/{job.Id}", View(jobs, job, null));
    }

    static Results<Ok<JobList>, ValidationProblem> List(Jobs jobs, string? limit, string? cursor, string? state, string? name)
    {
        var errors = new Dictionary<string, string[]>();
        var size = Cursor.Limit(limit, errors);
        JobState? wanted = null;
        if (state is not null)
        {
            if (Names.TryParse(state, out JobState parsed)) wanted = parsed;
            else errors["state"] = [$"must be one of {Names.AllStates}"];
        }
        var after = Cursor.After(cursor, errors);
        if (errors.Count > 0) return Problems.Invalid(errors);

        var (page, more) = jobs.List(new JobQuery(size, after, wanted, name));
        var list = new JobList { Jobs = new List<JobView>(page.Count) };
        foreach (var entry in page) list.Jobs.Add(View(jobs, entry.Job, entry));
        list.NextCursor = more && page.Count > 0 ? Cursor.Encode(page[^1].Job.CreatedAt.UtcTicks, page[^1].Job.Id) : null;
        return TypedResults.Ok(list);
    }

    static Results<Ok<JobView>, ProblemHttpResult> Get(string id, Jobs jobs) =>
        Guid.TryParse(id, out var guid) && jobs.Get(guid) is { } entry
            ? TypedResults.Ok(View(jobs, entry.Job, entry))
            : Problems.NoJob(id);

    /// <summary>A key that no job can hold (not of the key alphabet) is simply not found.</summary>
    static Results<Ok<JobView>, ProblemHttpResult> GetByKey(string key, Jobs jobs) =>
        JobRequest.IsKey(key) && jobs.GetByKey(key) is { } entry
            ? TypedResults.Ok(View(jobs, entry.Job, entry))
            : Problems.Status(StatusCodes.Status404NotFound, $"no job with key \"{key}\"");

    /// <summary>
    /// Upsert (SPEC §4): the body is a whole job, validated as a create; its key may be left out
    /// (the path gives it) but must not differ. A new schedule restarts the grid, as with PATCH; the
    /// past-run_at check applies only when the schedule is new, so a script can re-send a once job
    /// that has already run. A body that changes nothing writes nothing.
    /// </summary>
    static async Task<Results<Created<JobView>, Ok<JobView>, ValidationProblem, ProblemHttpResult>> PutByKey(
        string key, HttpRequest request, Jobs jobs, Settings settings, OutboundRules outbound)
    {
        if (!JobRequest.IsKey(key))
            return Problems.InvalidField("key", $"the key in the path must be 1 to {JobRequest.KeyLengthMax} characters of A-Z a-z 0-9 . _ - :");
        var (json, problem) = await RequestBody.ReadJsonAsync(request);
        if (problem is not null) return problem;
        if (json is JsonObject body)
        {
            if (!body.ContainsKey("key")) body["key"] = key;
            else if (body["key"] is not JsonValue given || !given.TryGetValue<string>(out var text) || text != key)
                return Problems.InvalidField("key", $"must be left out or equal the key in the path (\"{key}\")");
        }

        Dictionary<string, string[]>? errors = null;
        var now = jobs.Now();
        var put = await jobs.PutByKeyAsync(key, current =>
        {
            var (validated, invalid) = JobRequest.Validate(json, settings, now, checkRunAt: current is null,
                stored: current?.Spec, outbound: outbound.Current);
            errors = validated is null ? invalid : null;
            if (validated is not { } spec) return null;
            if (current is null) return new JobChange(spec, ScheduleGiven: true);
            var scheduleChanged = !ClientFields(spec).SequenceEqual(ClientFields(spec with { Schedule = current.Spec.Schedule }));
            if (scheduleChanged)
            {
                (validated, invalid) = JobRequest.Validate(json, settings, now, checkRunAt: true, stored: current.Spec, outbound: outbound.Current);
                errors = validated is null ? invalid : null;
                if (validated is not { } checkedAgain) return null;
                spec = checkedAgain;
            }
            else if (ClientFields(spec).SequenceEqual(ClientFields(current.Spec))) return null;
            return new JobChange(spec, scheduleChanged);
        });
        if (errors is not null) return Problems.Invalid(errors);
        if (put.Value is not ({ } job, var created)) return Problems.Refused(put, key);
        return created
            ? TypedResults.Created($"/jobs/{job.Id}", View(jobs, job, null))
            : TypedResults.Ok(View(jobs, job));
    }

    /// <summary>The client fields as the codec writes them: two specs with the same bytes ask for the same job.</summary>
    static byte[] ClientFields(JobSpec spec)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            Records.JobCodec.WriteClientFields(w, spec);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    static async Task<Results<Ok<JobView>, ValidationProblem, ProblemHttpResult>> Patch(
        string id, HttpRequest request, Jobs jobs, Settings settings, OutboundRules outbound)
    {
        if (!Guid.TryParse(id, out var guid) || jobs.Get(guid) is null) return Problems.NoJob(id);
        var (json, problem) = await RequestBody.ReadJsonAsync(request);
        if (problem is not null) return problem;
        if (json is not JsonObject patch)
            return Problems.Invalid(new() { ["$"] = ["a PATCH body must be a JSON object (a JSON merge patch, RFC 7396)"] });

        Dictionary<string, string[]>? errors = null;
        var scheduleGiven = patch["schedule"] is not null;
        var updated = await jobs.UpdateAsync(guid, current =>
        {
            var merged = JobPatch.Merge(JobPatch.ClientDocument(current), patch);
            var (spec, invalid) = JobRequest.Validate(merged, settings, jobs.Now(), checkRunAt: scheduleGiven,
                stored: current.Spec, outbound: outbound.Current);
            errors = spec is null ? invalid : null;
            return spec is { } valid ? new JobChange(valid, scheduleGiven) : null;
        });
        if (errors is not null) return Problems.Invalid(errors);
        return updated.Value is { } job ? TypedResults.Ok(View(jobs, job)) : Problems.Refused(updated, id);
    }

    static async Task<Results<NoContent, ProblemHttpResult>> Delete(string id, Jobs jobs)
    {
        if (!Guid.TryParse(id, out var guid)) return Problems.NoJob(id);
        var deleted = await jobs.DeleteAsync(guid);
        return deleted.Value is not null ? TypedResults.NoContent() : Problems.Refused(deleted, id);
    }

    static async Task<Results<Accepted<RunStarted>, ProblemHttpResult>> RunNow(string id, Jobs jobs)
    {
        if (!Guid.TryParse(id, out var guid)) return Problems.NoJob(id);
        var started = await jobs.RunNowAsync(guid);
        return started.Value is { } runId
            ? TypedResults.Accepted($"/jobs/{id}/runs", new RunStarted { RunId = runId })
            : Problems.Refused(started, id);
    }

    static async Task<Results<Ok<JobView>, ProblemHttpResult>> Pause(string id, Jobs jobs) =>
        Answer(jobs, id, Guid.TryParse(id, out var guid) ? await jobs.PauseAsync(guid) : JobResult<Job>.Refused(Refusal.NotFound));

    static async Task<Results<Ok<JobView>, ProblemHttpResult>> Resume(string id, Jobs jobs) =>
        Answer(jobs, id, Guid.TryParse(id, out var guid) ? await jobs.ResumeAsync(guid) : JobResult<Job>.Refused(Refusal.NotFound));

    static Results<Ok<JobView>, ProblemHttpResult> Answer(Jobs jobs, string id, JobResult<Job> result) =>
        result.Value is { } job ? TypedResults.Ok(View(jobs, job)) : Problems.Refused(result, id);

    static Results<Ok<RunList>, ProblemHttpResult> Runs(string id, Jobs jobs)
    {
        if (!Guid.TryParse(id, out var guid) || jobs.Get(guid) is not { } entry) return Problems.NoJob(id);
        var list = new RunList
        {
            Runs = entry.ReadRuns(static runs =>
            {
                var views = new List<RunView>(runs.Length);
                foreach (var run in runs) views.Add(new RunView(run));
                return views;
            }),
        };
        return TypedResults.Ok(list);
    }
}
