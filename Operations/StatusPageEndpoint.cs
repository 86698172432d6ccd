using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ksana.Operations;

/// <summary>
/// The status page of SPEC §11: one HTML page, one script and one stylesheet, all embedded in the
/// binary. The page itself needs no key (it holds no data); every call it makes for data sends the
/// key the person typed, as a header. <c>GET /ui/session</c> tells the page what that key may do.
/// </summary>
public static class StatusPageEndpoint
{
    /// <summary>
    /// The <see cref="HttpContext.Items"/> entry in which authentication leaves the scope of the
    /// request's key: the string <c>"read"</c> or <c>"admin"</c>. Absent means admin (keys without
    /// a scope may do everything, SPEC §3).
    /// </summary>
    public const string ScopeItem = "ksana.scope";

    /// <summary>
    /// Scripts and styles come only from this server, as separate files; nothing inline, nothing from
    /// other hosts, no forms posted anywhere, no framing. The script talks to this origin only.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    static readonly Lazy<PageAsset> Html = new(() => PageAsset.Load("StatusPage/index.html", "text/html; charset=utf-8"));
    static readonly Lazy<PageAsset> Script = new(() => PageAsset.Load("StatusPage/app.js", "text/javascript; charset=utf-8"));
    static readonly Lazy<PageAsset> Styles = new(() => PageAsset.Load("StatusPage/app.css", "text/css; charset=utf-8"));

    public static IEndpointRouteBuilder MapStatusPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", (HttpContext context) => Serve(context, Html.Value)).AllowAnonymous();
        app.MapGet("/ui/app.js", (HttpContext context) => Serve(context, Script.Value)).AllowAnonymous();
        app.MapGet("/ui/app.css", (HttpContext context) => Serve(context, Styles.Value)).AllowAnonymous();
        app.MapGet("/ui/session", Session);
        return app;
    }

    /// <summary>
    /// Sends one asset. The ETag answers If-None-Match with 304; <c>no-cache</c> makes the browser ask
    /// every time, so a new binary's page is seen at once while an unchanged one costs one 304.
    /// </summary>
    static FileContentHttpResult Serve(HttpContext context, PageAsset asset)
    {
        var (body, encoding, etag) = asset.Negotiate(context.Request.Headers.AcceptEncoding.ToString());
        var headers = context.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.Vary = "Accept-Encoding";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        if (encoding is not null) headers.ContentEncoding = encoding;
        return TypedResults.Bytes(body, asset.ContentType,
            entityTag: Microsoft.Net.Http.Headers.EntityTagHeaderValue.Parse(etag));
    }

    /// <summary>What the request's key may do, so the page offers only the actions that would work.</summary>
    static JsonHttpResult<UiSession> Session(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-store";
        var scope = context.Items.TryGetValue(ScopeItem, out var value) && value is "read" ? "read" : "admin";
        return TypedResults.Json(new UiSession { Scope = scope }, StatusPageJson.Default.UiSession);
    }
}

/// <summary>The answer of <c>GET /ui/session</c>: <c>{"scope":"read"}</c> or <c>{"scope":"admin"}</c>.</summary>
public sealed class UiSession
{
    public string Scope { get; set; } = "admin";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(UiSession))]
internal sealed partial class StatusPageJson : JsonSerializerContext;
