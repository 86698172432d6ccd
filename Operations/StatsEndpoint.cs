using Ksana.Wire;
using Microsoft.AspNetCore.Http.HttpResults;
using System.Text.Json.Serialization;
using Ksana.Scheduling;

namespace Ksana.Operations;

/// <summary>
/// <c>GET /stats/runs-per-minute</c>: the status page's chart data, the last 60 minutes of
/// <see cref="RunsPerMinute"/>, oldest first. Needs a key (read scope is enough), like the other
/// data the page shows.
/// </summary>
public static class StatsEndpoint
{
    public const string RunsPerMinutePath = "/stats/runs-per-minute";

    /// <summary>Maps the route over the <see cref="RunsPerMinute"/> singleton in the app's services.</summary>
    public static IEndpointRouteBuilder MapStats(this IEndpointRouteBuilder app)
    {
        app.MapGet(RunsPerMinutePath, (HttpContext context) => Answer(context.RequestServices.GetRequiredService<RunsPerMinute>()));
        return app;
    }

    /// <summary>Maps the route over the given aggregator (tests, or a host that does not register one).</summary>
    public static IEndpointRouteBuilder MapStats(this IEndpointRouteBuilder app, RunsPerMinute runs)
    {
        app.MapGet(RunsPerMinutePath, () => Answer(runs));
        return app;
    }

    // The type info is passed explicitly, so this works whatever resolvers the app's JSON options hold.
    static JsonHttpResult<RunsPerMinuteView> Answer(RunsPerMinute runs) =>
        TypedResults.Json(RunsPerMinuteView.From(runs.Snapshot()), OperationsJson.Default.RunsPerMinuteView);
}

/// <summary>The body of <c>GET /stats/runs-per-minute</c>.</summary>
public sealed class RunsPerMinuteView
{
    public List<MinuteView> Minutes { get; set; } = [];

    public static RunsPerMinuteView From(MinuteCounts[] minutes)
    {
        var view = new RunsPerMinuteView { Minutes = new List<MinuteView>(minutes.Length) };
        foreach (var m in minutes)
            view.Minutes.Add(new MinuteView
            {
                At = Rfc3339.Format(m.At),
                Succeeded = m.Succeeded,
                Failed = m.Failed,
                Skipped = m.Skipped,
                Missed = m.Missed,
            });
        return view;
    }
}

/// <summary>One minute of the chart: runs that finished in the minute starting at <see cref="At"/>.</summary>
public sealed class MinuteView
{
    public string At { get; set; } = "";
    public long Succeeded { get; set; }
    public long Failed { get; set; }
    public long Skipped { get; set; }
    public long Missed { get; set; }
}

/// <summary>The types Ksana.Operations puts on the wire, source-generated.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(RunsPerMinuteView))]
internal sealed partial class OperationsJson : JsonSerializerContext;
