using Microsoft.AspNetCore.Http.HttpResults;
using Ksana.Scheduling;
using Ksana.Wire;

namespace Ksana.Http;

/// <summary>
/// Runs across jobs (SPEC §4, §9): the list with its filters (<c>?status=failed</c> is the
/// dead-letter view), one run, and replay of a failed run.
/// </summary>
public static class RunsApi
{
    public static void MapRuns(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/runs");
        runs.MapGet("", List);
        runs.MapGet("/{runId}", Get);
        runs.MapPost("/{runId}/replay", Replay);
    }

    static Results<Ok<RunPage>, ValidationProblem> List(JobTable table, string? status, string? job_id, string? since, string? limit, string? cursor)
    {
        var errors = new Dictionary<string, string[]>();
        var size = Cursor.Limit(limit, errors);
        RunStatus? wanted = null;
        if (status is not null)
        {
            if (Names.TryParse(status, out RunStatus parsed)) wanted = parsed;
            else errors["status"] = [$"must be one of {Names.AllStatuses}"];
        }
        Guid? job = null;
        if (job_id is not null)
        {
            if (Guid.TryParse(job_id, out var id)) job = id;
            else errors["job_id"] = ["must be a job id (a UUID)"];
        }
        DateTimeOffset? from = null;
        if (since is not null)
        {
            if (Rfc3339.TryParse(since, out var t, out var why)) from = t;
            else errors["since"] = [why];
        }
        var after = Cursor.After(cursor, errors);
        if (errors.Count > 0) return Problems.Invalid(errors);

        var (page, more) = RunQueries.List(table, new RunQuery(size, wanted, job, from, after));
        var answer = new RunPage { Runs = new List<RunView>(page.Count) };
        foreach (var run in page) answer.Runs.Add(new RunView(run));
        answer.NextCursor = more && page.Count > 0 ? Cursor.Encode(page[^1].ScheduledAt.UtcTicks, page[^1].RunId) : null;
        return TypedResults.Ok(answer);
    }

    static Results<Ok<RunView>, ProblemHttpResult> Get(string runId, JobTable table) =>
        Run.TryParseId(runId, out var id) && RunQueries.Find(table, id) is ({ }, { } run)
            ? TypedResults.Ok(new RunView(run))
            : Problems.NoRun(runId);

    static async Task<Results<Accepted<RunStarted>, ProblemHttpResult>> Replay(string runId, Jobs jobs)
    {
        if (!Run.TryParseId(runId, out var id)) return Problems.NoRun(runId);
        var replayed = await jobs.ReplayAsync(id);
        return replayed.Value is { } started
            ? TypedResults.Accepted($"/runs/{started}", new RunStarted { RunId = started })
            : replayed.Refusal == Refusal.NotFound ? Problems.NoRun(runId) : Problems.Refused(replayed, runId);
    }
}
