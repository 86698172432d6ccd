using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Ksana.Hosting;
using Ksana.Scheduling;
using Ksana.Wire;

namespace Ksana.Http;

/// <summary>
/// When jobs fire (SPEC §4): a job's upcoming fire times, and a preview of a schedule before any job
/// has it. Handlers validate, ask <see cref="Upcoming"/>, and map the answer.
/// </summary>
public static class SchedulesApi
{
    public static void MapSchedules(this IEndpointRouteBuilder app)
    {
        app.MapGet("/jobs/{id}/upcoming", UpcomingOf);
        app.MapPost("/schedules/preview", Preview);
    }

    static Results<Ok<UpcomingList>, ValidationProblem, ProblemHttpResult> UpcomingOf(string id, string? count, Jobs jobs, TimeProvider time)
    {
        if (!Guid.TryParse(id, out var guid) || jobs.Get(guid) is not { } entry) return Problems.NoJob(id);
        var n = Upcoming.CountDefault;
        if (count is not null && (!int.TryParse(count, System.Globalization.NumberStyles.None, null, out n) || n < 1 || n > Upcoming.CountMax))
            return Problems.Invalid(new() { ["count"] = [$"must be a whole number from 1 to {Upcoming.CountMax}"] });
        // The same clock reading as next_run_at, so the first entry is the job's next_run_at.
        var times = Upcoming.Of(entry.Job, time.GetUtcNow(), n);
        return TypedResults.Ok(UpcomingList.Of(times, entry.Job.Spec.Schedule.Zone));
    }

    static async Task<Results<Ok<UpcomingList>, ValidationProblem, ProblemHttpResult>> Preview(HttpRequest request, Jobs jobs, Settings settings)
    {
        var (json, problem) = await RequestBody.ReadJsonAsync(request);
        if (problem is not null) return problem;
        if (json is not JsonObject body)
            return Problems.Invalid(new() { ["$"] = ["the request body must be a JSON object: {\"schedule\": {…}, \"count\": 10}"] });
        var now = jobs.Now();
        var (schedule, errors) = JobRequest.ValidateSchedule(body["schedule"], settings, now);
        foreach (var (member, _) in body)
            if (member is not ("schedule" or "count"))
                errors[member] = [$"unknown field \"{member}\" (a preview takes schedule and count)"];
        var n = Upcoming.CountDefault;
        if (body["count"] is { } countNode
            && !(countNode is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out n) && n >= 1 && n <= Upcoming.CountMax))
            errors["count"] = [$"must be a whole number from 1 to {Upcoming.CountMax}"];
        if (errors.Count > 0 || schedule is null) return Problems.Invalid(errors);
        return TypedResults.Ok(UpcomingList.Of(Upcoming.Of(schedule, now, n), schedule.Zone));
    }
}

/// <summary><c>{"upcoming":[{"at":"…Z","local":"…+02:00"}]}</c>: fire times in UTC and on the schedule's wall clock.</summary>
public sealed class UpcomingList
{
    public List<UpcomingTime> Upcoming { get; set; } = [];

    public static UpcomingList Of(List<DateTimeOffset> times, TimeZoneInfo zone)
    {
        var list = new UpcomingList { Upcoming = new List<UpcomingTime>(times.Count) };
        foreach (var t in times) list.Upcoming.Add(new UpcomingTime { At = Rfc3339.Format(t), Local = Rfc3339.FormatLocal(t, zone) });
        return list;
    }
}

/// <summary>One fire time: <c>at</c> in UTC, <c>local</c> the same instant in the schedule's time zone with its offset.</summary>
public sealed class UpcomingTime
{
    public string At { get; set; } = "";
    public string Local { get; set; } = "";
}
