namespace Ksana.Scheduling.Cron;

/// <summary>
/// Close names for an unknown time zone, so that "Europe/Berln" answers "did you mean
/// Europe/Berlin?". A typo is usually in the city, so the last path segment is compared on its
/// own as well as the whole name.
/// </summary>
static class ZoneSuggestions
{
    const int SuggestionsMax = 3;
    const int InputLengthMax = 64;

    public static List<string> Closest(string asked, IReadOnlyList<string> names)
    {
        if (asked.Length > InputLengthMax) return [];
        string askedCity = LastSegment(asked);
        var scored = new List<Scored>();
        foreach (string name in names)
        {
            string city = LastSegment(name);
            // "berlin" or "Berlin" alone names Europe/Berlin.
            if (city.Equals(asked, StringComparison.OrdinalIgnoreCase) || city.Equals(askedCity, StringComparison.OrdinalIgnoreCase))
            {
                scored.Add(new Scored(0, name));
                continue;
            }
            int whole = Distance(asked, name);
            int cityOnly = askedCity.Length >= 3 ? Distance(askedCity, city) + 1 : int.MaxValue;
            int best = Math.Min(whole, cityOnly);
            // Allow about one edit in four characters: enough for typos, not for other cities.
            if (best <= Math.Max(1, Math.Min(asked.Length, name.Length) / 4)) scored.Add(new Scored(best, name));
        }
        scored.Sort((a, b) => a.Distance != b.Distance ? a.Distance.CompareTo(b.Distance) : string.CompareOrdinal(a.Name, b.Name));
        var closest = new List<string>(SuggestionsMax);
        for (int i = 0; i < scored.Count && i < SuggestionsMax; i++) closest.Add(scored[i].Name);
        return closest;
    }

    // A class, not a tuple: sorting a list of references reuses code native AOT already has.
    sealed record Scored(int Distance, string Name);

    static string LastSegment(string name) => name[(name.LastIndexOf('/') + 1)..];

    /// <summary>Levenshtein distance, ignoring case; both strings are short (≤ 64 characters).</summary>
    static int Distance(string a, string b)
    {
        if (Math.Abs(a.Length - b.Length) > 8) return int.MaxValue / 2;
        Span<int> previous = stackalloc int[b.Length + 1];
        Span<int> current = stackalloc int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitution = char.ToUpperInvariant(a[i - 1]) == char.ToUpperInvariant(b[j - 1]) ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + substitution);
            }
            current.CopyTo(previous);
        }
        return previous[b.Length];
    }
}
