using System.Text.Json.Serialization;
using Ksana.Http;
using Ksana.Scheduling;
using Ksana.Wire;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ksana.Cluster;

/// <summary>
/// <c>GET /cluster</c> (SPEC §12): the nodes sharing the database, when each was last seen (the
/// database's clock) and how many jobs each holds. On a single box the list holds this process
/// alone. Needs a key, read scope enough.
/// </summary>
public static class ClusterEndpoint
{
    public static IEndpointRouteBuilder MapCluster(this IEndpointRouteBuilder app, string nodeName)
    {
        app.MapGet("/cluster", async Task<Results<JsonHttpResult<ClusterView>, ProblemHttpResult>> (HttpContext context) =>
        {
            var services = context.RequestServices;
            var view = new ClusterView();
            if (services.GetService<ClusterNode>() is { } node)
            {
                try
                {
                    foreach (var row in await node.NodesAsync(context.RequestAborted))
                        view.Nodes.Add(new NodeView { Name = row.Name, LastSeenAt = Rfc3339.Format(Clock.Millis(row.LastSeenAt)), Jobs = row.Jobs });
                }
                catch (Exception e) when (ClusterStore.IsDatabaseError(e))
                {
                    return Problems.Status(StatusCodes.Status503ServiceUnavailable, $"PostgreSQL cannot be reached ({e.Message})");
                }
            }
            else
            {
                var time = services.GetRequiredService<TimeProvider>();
                view.Nodes.Add(new NodeView
                {
                    Name = nodeName,
                    LastSeenAt = Rfc3339.Format(Clock.Millis(time.GetUtcNow())),
                    Jobs = services.GetRequiredService<JobTable>().Count,
                });
            }
            return TypedResults.Json(view, ClusterJson.Default.ClusterView);
        });
        return app;
    }
}

/// <summary>The body of <c>GET /cluster</c>.</summary>
public sealed class ClusterView
{
    public List<NodeView> Nodes { get; set; } = [];
}

public sealed class NodeView
{
    public string Name { get; set; } = "";
    public string LastSeenAt { get; set; } = "";
    public long Jobs { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ClusterView))]
internal sealed partial class ClusterJson : JsonSerializerContext;
