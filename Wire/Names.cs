namespace Ksana.Wire;

/// <summary>What a client sees of a job (SPEC §2).</summary>
public enum JobState { Scheduled, Paused, Completed, Missed }

/// <summary>Where a run is in its life, or how it ended (SPEC §5).</summary>
public enum RunStatus { Running, Retrying, Succeeded, Failed, Skipped, Missed }

public enum RunTrigger { Schedule, Manual }

/// <summary>
/// The one spelling of each state, status and trigger, for the API, the journal and query strings.
/// Arrays indexed by the enum value: writing a name is a load, not a switch.
/// </summary>
public static class Names
{
    static readonly string[] States = ["scheduled", "paused", "completed", "missed"];
    static readonly string[] Statuses = ["running", "retrying", "succeeded", "failed", "skipped", "missed"];
    static readonly string[] Triggers = ["schedule", "manual"];

    public static string Of(JobState state) => States[(int)state];
    public static string Of(RunStatus status) => Statuses[(int)status];
    public static string Of(RunTrigger trigger) => Triggers[(int)trigger];

    public static string AllStates => string.Join(", ", States);
    public static string AllStatuses => string.Join(", ", Statuses);

    public static bool TryParse(ReadOnlySpan<char> text, out JobState state) => TryFind(States, text, out state);
    public static bool TryParse(ReadOnlySpan<char> text, out RunStatus status) => TryFind(Statuses, text, out status);
    public static bool TryParse(ReadOnlySpan<char> text, out RunTrigger trigger) => TryFind(Triggers, text, out trigger);

    /// <summary>For the journal reader, which matches UTF-8 bytes without making a string.</summary>
    public static bool TryParseUtf8(ReadOnlySpan<byte> utf8, out RunStatus status)
    {
        Span<char> text = stackalloc char[16];
        status = default;
        return utf8.Length <= text.Length && System.Text.Encoding.UTF8.TryGetChars(utf8, text, out var n) && TryParse(text[..n], out status);
    }

    static bool TryFind<T>(string[] names, ReadOnlySpan<char> text, out T value) where T : struct, Enum
    {
        for (var i = 0; i < names.Length; i++)
        {
            if (!text.SequenceEqual(names[i])) continue;
            value = System.Runtime.CompilerServices.Unsafe.As<int, T>(ref i);
            return true;
        }
        value = default;
        return false;
    }
}
