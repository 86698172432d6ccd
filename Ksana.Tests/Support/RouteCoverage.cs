using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ksana.Tests.Support;

/// <summary>
/// Checks that every route an app maps is in an OpenAPI document with that method: the mapped
/// routes must be a subset of the documented ones. Route parameters are compared by position, not
/// by name or constraint (<c>/jobs/{id:guid}</c> matches the document's <c>/jobs/{id}</c>).
/// </summary>
public static class RouteCoverage
{
    static readonly string[] OperationKeys = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    /// <summary>Every mapped "METHOD /pattern" (by its shape) of the endpoints.</summary>
    public static SortedSet<string> Mapped(IEnumerable<Endpoint> endpoints)
    {
        var routes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in endpoints.OfType<RouteEndpoint>())
        {
            var shape = Shape(endpoint.RoutePattern.RawText ?? "/");
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
            if (methods is null || methods.Count == 0) routes.Add($"ANY {shape}");
            else foreach (var method in methods) routes.Add($"{method.ToUpperInvariant()} {shape}");
        }
        return routes;
    }

    /// <summary>Every documented "METHOD /pattern" (by its shape) of an OpenAPI document.</summary>
    public static SortedSet<string> Documented(JsonObject document)
    {
        var routes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (path, item) in document["paths"]!.AsObject())
            foreach (var key in OperationKeys)
                if (item![key] is not null)
                    routes.Add($"{key.ToUpperInvariant()} {Shape(path)}");
        return routes;
    }

    /// <summary>Mapped routes the document does not have; empty when every route is documented.</summary>
    public static List<string> Undocumented(IEnumerable<Endpoint> endpoints, JsonObject document)
    {
        var documented = Documented(document);
        var documentedPaths = documented.Select(r => r[(r.IndexOf(' ') + 1)..]).ToHashSet();
        return Mapped(endpoints)
            .Where(r => r.StartsWith("ANY ", StringComparison.Ordinal)
                ? !documentedPaths.Contains(r[4..])
                : !documented.Contains(r))
            .ToList();
    }

    /// <summary>
    /// "/jobs/{id:guid}/runs/" → "/jobs/{}/runs": parameters lose name, constraints, defaults and
    /// optionality; a trailing slash goes (but "/" stays).
    /// </summary>
    public static string Shape(string pattern)
    {
        var segments = pattern.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.StartsWith('{') && s.EndsWith('}') ? "{}" : s);
        return "/" + string.Join('/', segments);
    }
}
