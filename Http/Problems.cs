using Microsoft.AspNetCore.Http.HttpResults;
using Ksana.Scheduling;
namespace Ksana.Http;

/// <summary>RFC 9457 problem answers, all in one place so they read the same everywhere.</summary>
public static class Problems
{
    public static ProblemHttpResult Status(int status, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status);

    public static ProblemHttpResult NoRun(string id) =>
        Status(StatusCodes.Status404NotFound, $"no run with id \"{id}\" (runs are kept per job: the most recent, and apart from them the most recent failed)");

    public static ProblemHttpResult NoJob(string id) =>
        Status(StatusCodes.Status404NotFound, $"no job with id \"{id}\"");

    /// <summary>A lifecycle call's refusal as its problem: 404 (naming <paramref name="id"/>), 409 or 503, with the reason.</summary>
    public static ProblemHttpResult Refused<T>(JobResult<T> result, string id) => result.Refusal switch
    {
        Refusal.NotFound => NoJob(id),
        Refusal.Conflict => Status(StatusCodes.Status409Conflict, result.Why ?? "the change conflicts with the job's state"),
        _ => Status(StatusCodes.Status503ServiceUnavailable, result.Why ?? "the journal is unavailable; nothing was changed"),
    };

    /// <summary>One bad field, found before the body reaches a handler's validation: the same shape as <see cref="Invalid"/>.</summary>
    public static ProblemHttpResult InvalidField(string field, string message) =>
        TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request is not valid",
            Detail = $"1 field is not valid: {field}",
        });

    public static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors,
            detail: $"{errors.Count} field{(errors.Count == 1 ? " is" : "s are")} not valid: {string.Join(", ", errors.Keys)}",
            title: "The request is not valid");
}
