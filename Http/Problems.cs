using Microsoft.AspNetCore.Http.HttpResults;
namespace Ksana.Http;

/// <summary>RFC 9457 problem answers, all in one place so they read the same everywhere.</summary>
public static class Problems
{
    public static ProblemHttpResult Status(int status, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status);

    public static ProblemHttpResult NoJob(string id) =>
        Status(StatusCodes.Status404NotFound, $"no job with id \"{id}\"");

    public static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors,
            detail: $"{errors.Count} field{(errors.Count == 1 ? " is" : "s are")} not valid: {string.Join(", ", errors.Keys)}",
            title: "The request is not valid");
}
