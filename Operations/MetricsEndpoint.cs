namespace Ksana.Operations;

/// <summary>
/// <c>GET /metrics</c> (SPEC §11): every series of <see cref="KsanaMetrics"/> in the Prometheus text
/// format 0.0.4, written straight into the response's pipe, so a scrape costs no buffer of its own.
/// </summary>
/// <remarks>
/// It needs an API key (read scope is enough) like every route, which the key middleware enforces;
/// with <c>METRICS_PUBLIC=true</c> the route is mapped anonymous, and the middleware lets it through.
/// </remarks>
public static class MetricsEndpoint
{
    public const string Path = "/metrics";

    /// <summary>
    /// Maps <c>GET /metrics</c> over the <see cref="KsanaMetrics"/> singleton in the app's services;
    /// <paramref name="withoutKey"/> (METRICS_PUBLIC) serves it to anyone.
    /// </summary>
    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder app, bool withoutKey = false)
    {
        var route = app.MapGet(Path, (HttpContext context) => WriteAsync(context, context.RequestServices.GetRequiredService<KsanaMetrics>()));
        if (withoutKey) route.AllowAnonymous();
        return app;
    }

    /// <summary>Maps <c>GET /metrics</c> over the given registry (tests, or a host that does not register one).</summary>
    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder app, KsanaMetrics metrics)
    {
        app.MapGet(Path, (HttpContext context) => WriteAsync(context, metrics));
        return app;
    }

    static async Task WriteAsync(HttpContext context, KsanaMetrics metrics)
    {
        var response = context.Response;
        response.ContentType = MetricsWriter.ContentType;
        response.Headers.CacheControl = "no-store";
        metrics.WriteTo(response.BodyWriter);
        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }
}
