using Microsoft.Playwright;

namespace Ksana.Tests.Browser;

/// <summary>
/// One headless Chromium for every browser test, driven by Playwright. It is Debian's chromium
/// (or KSANA_CHROMIUM): Playwright's own browser downloads cannot be used here, so none is attempted.
/// Without a Chromium the tests fail, with the command that installs one; they never pass silently.
/// </summary>
public static class Chromium
{
    static readonly SemaphoreSlim Gate = new(1, 1);
    static IPlaywright? _playwright;
    static IBrowser? _browser;

    public static string ExecutablePath()
    {
        var configured = Environment.GetEnvironmentVariable("KSANA_CHROMIUM");
        if (!string.IsNullOrEmpty(configured))
            return File.Exists(configured) ? configured
                : throw new InvalidOperationException($"KSANA_CHROMIUM={configured} does not exist");
        foreach (var candidate in new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/snap/bin/chromium" })
            if (File.Exists(candidate)) return candidate;
        throw new InvalidOperationException(
            "Chromium is not installed, and the status page tests (Ksana.Tests/Browser) need it. "
            + "Install it with: sudo apt-get install -y chromium   (or set KSANA_CHROMIUM to a Chromium binary). "
            + "./build.sh test installs it by itself when run as root on Debian.");
    }

    public static async Task<IBrowser> BrowserAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_browser is { IsConnected: true }) return _browser;
            var path = ExecutablePath();
            _playwright ??= await Playwright.CreateAsync();
            _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = path,
                Headless = true,
                // Small shared-memory segments in containers make Chromium crash on big pages.
                Args = ["--disable-dev-shm-usage", "--no-first-run", "--disable-gpu"],
            });
            return _browser;
        }
        finally
        {
            Gate.Release();
        }
    }

    [After(TestSession)]
    public static async Task CloseAsync()
    {
        if (_browser is not null) await _browser.CloseAsync();
        _playwright?.Dispose();
    }
}
