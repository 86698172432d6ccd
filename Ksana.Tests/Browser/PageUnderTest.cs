using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace Ksana.Tests.Browser;

/// <summary>
/// The status page open in a fresh browser context (its own storage and cookies), pointed at one
/// Ksana server. It records every URL the browser asked for and every script error or CSP refusal,
/// so tests can check what left the page as well as what it shows.
/// </summary>
public sealed class PageUnderTest : IAsyncDisposable
{
    public static readonly ViewportSize Desktop = new() { Width = 1280, Height = 860 };
    public static readonly ViewportSize Phone = new() { Width = 390, Height = 844 };

    readonly ConcurrentQueue<IRequest> _requests = new();
    readonly ConcurrentQueue<string> _problems = new();

    PageUnderTest(IBrowserContext context, IPage page, Uri address)
    {
        Context = context;
        Page = page;
        Address = address;
        page.Request += (_, request) => _requests.Enqueue(request);
        page.PageError += (_, error) => _problems.Enqueue($"script error: {error}");
        page.Console += (_, message) =>
        {
            // A 401 or 404 answer is logged by Chromium as a console error too; those are expected.
            if (message.Type == "error" && !message.Text.Contains("Failed to load resource", StringComparison.Ordinal))
                _problems.Enqueue($"console: {message.Text}");
        };
    }

    public IBrowserContext Context { get; }
    public IPage Page { get; }
    public Uri Address { get; }
    public IReadOnlyList<IRequest> Requests => _requests.ToArray();
    /// <summary>Uncaught script errors and console errors such as Content-Security-Policy refusals.</summary>
    public IReadOnlyList<string> Problems => _problems.ToArray();

    /// <summary>
    /// Opens the status page. With <paramref name="clock"/>, the page's timers run on Playwright's
    /// clock (installed before the page loads; time flows until a test pauses it), so that a test can
    /// hold a timer back however slow the machine is.
    /// </summary>
    public static async Task<PageUnderTest> OpenAsync(KsanaServer ksana, bool phone = false, bool clock = false)
    {
        var browser = await Chromium.BrowserAsync();
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = phone ? Phone : Desktop,
            IsMobile = phone,
            HasTouch = phone,
            TimezoneId = "UTC",
            Locale = "en-GB",
        });
        context.SetDefaultTimeout(15_000);
        if (clock) await context.Clock.InstallAsync();
        var page = await context.NewPageAsync();
        var opened = new PageUnderTest(context, page, ksana.Address);
        await page.GotoAsync(ksana.Address.ToString());
        return opened;
    }

    public async Task EnterKeyAsync(string key)
    {
        await Page.Locator("#key-input").FillAsync(key);
        await Page.Locator("#key-form button[type=submit]").ClickAsync();
    }

    /// <summary>The row of the job with this exact name.</summary>
    public ILocator Row(string name) =>
        Page.Locator("article.job").Filter(new LocatorFilterOptions
        {
            Has = Page.Locator(".job-name", new PageLocatorOptions { HasTextRegex = new System.Text.RegularExpressions.Regex($"^{System.Text.RegularExpressions.Regex.Escape(name)}$") }),
        });

    /// <summary>A full-page screenshot in TestResults/screenshots/ at the repository root (git-ignored).</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var path = Path.Combine(RepositoryRoot(), "TestResults", "screenshots", name + ".png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Let transitions and the last paint settle so the picture shows what a person sees.
        await Page.WaitForTimeoutAsync(300);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "build.sh")) && File.Exists(Path.Combine(dir.FullName, "Ksana.csproj")))
                return dir.FullName;
        return AppContext.BaseDirectory;
    }

    public async ValueTask DisposeAsync() => await Context.CloseAsync();
}
