using Ksana.Wire;

namespace Ksana.Scheduling.Schedules;

/// <summary>
/// The members of one schedule object as text, from the API (a validated request) or the journal
/// (a trusted record), and the errors found in them by JSON path. The codecs read both through
/// this, so one piece of code decides what a schedule may say.
/// </summary>
public sealed class ScheduleFields
{
    /// <summary>A time more than this far in the past is refused where the SPEC says "in the past".</summary>
    public static readonly TimeSpan PastTolerance = TimeSpan.FromSeconds(5);

    readonly List<(string Name, string? Text, string? NotText)> _members = new(4);
    readonly Dictionary<string, List<string>>? _errors;
    bool _hasErrors;

    /// <param name="now">The time of the request (unused for journal records).</param>
    /// <param name="checkPast">False for journal records, and for a PATCH that leaves the schedule alone.</param>
    /// <param name="errors">Where errors go, keyed by JSON path; shared with the rest of the request.
    /// Null for a journal record: replay reads 100 000 of them at start-up, and an error there is
    /// fatal anyway, so it is kept as one line (<see cref="FirstError"/>) without a dictionary per record.</param>
    public ScheduleFields(DateTimeOffset now, bool checkPast, Dictionary<string, List<string>>? errors)
    {
        Now = now;
        CheckPast = checkPast;
        _errors = errors;
    }

    [ThreadStatic] static ScheduleFields? _forRecord;

    /// <summary>
    /// The fields of one journal record (no errors dictionary, no check against now): one reused
    /// instance per thread, emptied, since replay reads 100 000 records at start-up and the schedule
    /// it builds keeps nothing of the fields.
    /// </summary>
    public static ScheduleFields ForRecord()
    {
        var fields = _forRecord ??= new ScheduleFields(default, checkPast: false, errors: null);
        fields._members.Clear();
        fields._hasErrors = false;
        fields.FirstError = null;
        return fields;
    }

    public DateTimeOffset Now { get; }
    public bool CheckPast { get; }
    public int Count => _members.Count;
    public string NameAt(int i) => _members[i].Name;
    public bool HasErrors => _hasErrors;

    /// <summary>The first error, as one line (journal records, which carry no errors dictionary).</summary>
    public string? FirstError { get; private set; }

    public void Add(string name, string text) => _members.Add((name, text, null));

    /// <summary>A member whose JSON value is not a string (<paramref name="kind"/>: "a number").</summary>
    public void AddNotText(string name, string kind) => _members.Add((name, null, kind));

    public void Error(string name, string message)
    {
        var path = name.Length == 0 ? "schedule" : $"schedule.{name}";
        _hasErrors = true;
        FirstError ??= $"{path} {message}";
        if (_errors is null) return;
        if (!_errors.TryGetValue(path, out var list)) _errors[path] = list = [];
        list.Add(message);
    }

    public string? Text(string name, bool required)
    {
        foreach (var (n, text, notText) in _members)
        {
            if (n != name) continue;
            if (notText is not null) Error(name, $"must be a string, not {notText}");
            return text;
        }
        if (required) Error(name, "is required");
        return null;
    }

    public Duration? Duration(string name, bool required, Duration min, Duration max)
    {
        var text = Text(name, required);
        if (text is null) return null;
        if (Wire.Duration.Refusal(text, min, max, out var value) is { } why)
        {
            Error(name, why);
            return null;
        }
        return value;
    }

    public DateTimeOffset? Time(string name, bool required)
    {
        var text = Text(name, required);
        if (text is null) return null;
        if (!Rfc3339.TryParse(text, out var t, out var why))
        {
            Error(name, why);
            return null;
        }
        if (CheckPast && (t < Now.AddYears(-100) || t > Now.AddYears(100)))
        {
            Error(name, "must be within 100 years of now");
            return null;
        }
        return t;
    }
}
