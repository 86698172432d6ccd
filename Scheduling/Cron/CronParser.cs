namespace Ksana.Scheduling.Cron;

/// <summary>
/// Reads the cron syntax of SPEC §7 into bit masks. Every error names the field (1-based, and by
/// name), the 1-based character where the bad token starts in the whole text, and what was
/// expected there, because a person fixing a schedule in a JSON body has nothing else to go by.
/// </summary>
static class CronParser
{
    public const int TextLengthMax = 1000;

    // The fields in the order of a 6-field expression; a 5-field one starts at minute.
    enum Field { Second, Minute, Hour, DayOfMonth, Month, DayOfWeek }

    static readonly string[] FieldNames = ["second", "minute", "hour", "day-of-month", "month", "day-of-week"];
    static readonly int[] Lowest = [0, 0, 0, 1, 1, 0];
    static readonly int[] Highest = [59, 59, 23, 31, 12, 7];
    static readonly string[] MonthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    static readonly string[] WeekdayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

    static readonly Dictionary<string, string> Macros = new(StringComparer.OrdinalIgnoreCase)
    {
        ["@yearly"] = "0 0 1 1 *",
        ["@annually"] = "0 0 1 1 *",
        ["@monthly"] = "0 0 1 * *",
        ["@weekly"] = "0 0 * * 0",
        ["@daily"] = "0 0 * * *",
        ["@midnight"] = "0 0 * * *",
        ["@hourly"] = "0 * * * *",
    };

    /// <summary>Thrown inside the parser only; <see cref="Parse"/> turns it into the error text.</summary>
    sealed class CronSyntaxException(string message) : Exception(message);

    public static CronExpression? Parse(string? text, out string? error)
    {
        error = null;
        try
        {
            return ParseOrThrow(text);
        }
        catch (CronSyntaxException e)
        {
            // The one place a syntax error becomes a value: parsing is a deep recursion of small
            // checks, and an exception with the message keeps each check to one line.
            error = e.Message;
            return null;
        }
    }

    static CronExpression ParseOrThrow(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new CronSyntaxException("the cron expression is empty");
        if (text.Length > TextLengthMax) throw new CronSyntaxException($"the cron expression is {text.Length} characters long; at most {TextLengthMax} are allowed");
        for (int i = 0; i < text.Length; i++)
            if (char.IsControl(text[i]) && text[i] != '\t')
                throw new CronSyntaxException($"character {i + 1} is a control character (U+{(int)text[i]:X4}); separate fields with spaces");

        var tokens = Split(text);
        bool macro = false;
        if (tokens[0].Text.StartsWith('@'))
        {
            if (!Macros.TryGetValue(tokens[0].Text, out string? expansion))
                throw new CronSyntaxException($"at character {tokens[0].Start + 1}: unknown macro {Shown(tokens[0].Text)}; expected one of @yearly @annually @monthly @weekly @daily @midnight @hourly");
            if (tokens.Count > 1)
                throw new CronSyntaxException($"at character {tokens[1].Start + 1}: a macro such as {tokens[0].Text} stands alone; nothing may follow it");
            tokens = Split(expansion);
            macro = true;
        }
        if (tokens.Count is not (5 or 6))
            throw new CronSyntaxException(tokens.Count < 5
                ? $"the cron expression has {tokens.Count} field{(tokens.Count == 1 ? "" : "s")}; expected 5 (minute hour day-of-month month day-of-week) or 6 (second first)"
                : $"at character {tokens[6].Start + 1}: the cron expression has {tokens.Count} fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (second first)");

        int first = tokens.Count == 6 ? 0 : 1;
        var masks = new ulong[6];
        masks[0] = 1; // A 5-field expression fires at second 0.
        var days = new CronDays();
        bool interval = false;
        for (int i = 0; i < tokens.Count; i++)
        {
            var field = (Field)(first + i);
            var token = tokens[i];
            var at = new Place(i + 1, field, macro ? 0 : token.Start);
            masks[(int)field] = ParseField(token.Text, at, days);
            if (field is Field.Second or Field.Minute or Field.Hour && token.Text.AsSpan().IndexOfAny("*-/") >= 0) interval = true;
            if (field == Field.DayOfMonth) days.DayOfMonthUnrestricted = token.Text is "*" or "?";
            if (field == Field.DayOfWeek) days.DayOfWeekUnrestricted = token.Text is "*" or "?";
        }
        ulong weekdays = masks[(int)Field.DayOfWeek];
        days.DayOfWeek = (byte)((weekdays | weekdays >> 7) & 0x7F); // 7 is Sunday too.
        days.DayOfMonth = (uint)masks[(int)Field.DayOfMonth];

        if (!days.CanMatch(masks[(int)Field.Month]))
            throw new CronSyntaxException($"the cron expression never fires: no month it names has a day matching day-of-month {Shown(tokens[first == 0 ? 3 : 2].Text)}{(days.DayOfWeekUnrestricted ? "" : $" or day-of-week {Shown(tokens[^1].Text)}")}");

        return new CronExpression(text, masks[0], masks[1], masks[2], masks[4], days, interval);
    }

    readonly record struct Token(string Text, int Start);

    // Where an error points: the field's number as the user wrote it and the token's offset.
    readonly record struct Place(int Number, Field Field, int Start)
    {
        public string Say(int offset, string message) =>
            $"field {Number} ({FieldNames[(int)Field]}) at character {Start + offset + 1}: {message}";
    }

    static List<Token> Split(string text)
    {
        var tokens = new List<Token>();
        for (int i = 0; i < text.Length;)
        {
            if (text[i] is ' ' or '\t') { i++; continue; }
            int start = i;
            while (i < text.Length && text[i] is not (' ' or '\t')) i++;
            tokens.Add(new Token(text[start..i], start));
        }
        return tokens;
    }

    static ulong ParseField(string text, Place at, CronDays days)
    {
        ulong mask = 0;
        int offset = 0;
        foreach (string item in text.Split(','))
        {
            if (item.Length == 0)
                throw new CronSyntaxException(at.Say(offset, $"empty list item in {Shown(text)}; expected {Expected(at.Field)}"));
            mask |= ParseItem(item, at, offset, days, inList: item.Length != text.Length);
            offset += item.Length + 1;
        }
        return mask;
    }

    static ulong ParseItem(string item, Place at, int offset, CronDays days, bool inList)
    {
        var field = at.Field;
        if (item == "?")
        {
            if (field is not (Field.DayOfMonth or Field.DayOfWeek))
                throw new CronSyntaxException(at.Say(offset, $"? is only allowed in day-of-month and day-of-week; expected {Expected(field)}"));
            if (inList) throw new CronSyntaxException(at.Say(offset, "? stands alone in its field, not in a list"));
            return 0;
        }
        if (field == Field.DayOfMonth && TryDayOfMonthSpecial(item, at, offset, days)) return 0;
        if (field == Field.DayOfWeek && TryDayOfWeekSpecial(item, at, offset, days)) return 0;
        int bad = item.AsSpan().IndexOfAny("LW#");
        if (bad >= 0 && !IsName(item, bad))
            throw new CronSyntaxException(at.Say(offset + bad, (item[bad], field) switch
            {
                ('L' or 'W', Field.DayOfMonth) or ('L', Field.DayOfWeek) => $"{Shown(item)} is not a valid use of {item[bad]}; expected {Expected(field)}",
                ('#', _) => $"# (the n-th weekday) is only allowed in day-of-week; expected {Expected(field)}",
                ('W', _) => $"W (the nearest weekday) is only allowed in day-of-month; expected {Expected(field)}",
                _ => $"L (the last day) is only allowed in day-of-month and day-of-week; expected {Expected(field)}",
            }));

        int slash = item.IndexOf('/');
        string range = slash < 0 ? item : item[..slash];
        int low, high;
        if (range == "*")
        {
            (low, high) = (Lowest[(int)field], Highest[(int)field]);
        }
        else
        {
            int dash = range.IndexOf('-');
            low = Value(dash < 0 ? range : range[..dash], at, offset);
            high = dash < 0 ? (slash < 0 ? low : Highest[(int)field]) : Value(range[(dash + 1)..], at, offset + dash + 1);
            if (high < low)
                throw new CronSyntaxException(at.Say(offset, $"the range {Shown(range)} runs backwards; write the smaller value first"));
        }
        int step = 1;
        if (slash >= 0)
        {
            string stepText = item[(slash + 1)..];
            int span = Highest[(int)field] - Lowest[(int)field] + 1;
            if (!TryNumber(stepText, out step))
                throw new CronSyntaxException(at.Say(offset + slash + 1, $"{Shown(stepText)} is not a step; expected a number 1-{span} after /"));
            if (step < 1 || step > span)
                throw new CronSyntaxException(at.Say(offset + slash + 1, $"step {step} is out of range 1-{span}"));
        }
        ulong mask = 0;
        for (int v = low; v <= high; v += step) mask |= 1UL << v;
        return mask;
    }

    // L, L-n, nW and LW in day-of-month.
    static bool TryDayOfMonthSpecial(string item, Place at, int offset, CronDays days)
    {
        if (item is "L" or "l") { days.LastMinus |= 1; return true; }
        if (item.Equals("LW", StringComparison.OrdinalIgnoreCase)) { days.LastWeekday = true; return true; }
        if (item.Length > 2 && item[0] is 'L' or 'l' && item[1] == '-')
        {
            if (!TryNumber(item[2..], out int before) || before > 30)
                throw new CronSyntaxException(at.Say(offset + 2, $"{Shown(item[2..])} after L- is out of range; expected a number of days 0-30 before the last day"));
            days.LastMinus |= 1u << before;
            return true;
        }
        if (item.Length > 1 && item[^1] is 'W' or 'w')
        {
            if (!TryNumber(item[..^1], out int day))
                throw new CronSyntaxException(at.Say(offset, $"{Shown(item)} is not a day; W follows a single day of the month, as in 15W, or L, as in LW"));
            if (day is < 1 or > 31)
                throw new CronSyntaxException(at.Say(offset, $"{day} is out of range 1-31"));
            days.NearestWeekday |= 1u << day;
            return true;
        }
        return false;
    }

    // dL and d#n in day-of-week.
    static bool TryDayOfWeekSpecial(string item, Place at, int offset, CronDays days)
    {
        int hash = item.IndexOf('#');
        if (hash >= 0)
        {
            int weekday = Value(item[..hash], at, offset) % 7;
            if (!TryNumber(item[(hash + 1)..], out int nth) || nth is < 1 or > 5)
                throw new CronSyntaxException(at.Say(offset + hash + 1, $"{Shown(item[(hash + 1)..])} after # is out of range; expected which occurrence in the month, 1-5"));
            days.NthDayOfWeek |= 1UL << (weekday * 5 + nth - 1);
            return true;
        }
        if (item.Length > 0 && item[^1] is 'L' or 'l' && !IsName(item, item.Length - 1))
        {
            if (item.Length == 1)
                throw new CronSyntaxException(at.Say(offset, "L in day-of-week needs a weekday before it, as in 5L or FRIL (the last Friday of the month)"));
            int weekday = Value(item[..^1], at, offset) % 7;
            days.LastDayOfWeek |= (byte)(1 << weekday);
            return true;
        }
        return false;
    }

    static int Value(string text, Place at, int offset)
    {
        var field = at.Field;
        int low = Lowest[(int)field], high = Highest[(int)field];
        if (TryNumber(text, out int value))
        {
            if (value < low || value > high)
                throw new CronSyntaxException(at.Say(offset, $"{(text.Length > 9 ? Shown(text) : value.ToString())} is out of range {low}-{high}"));
            return value;
        }
        string[]? names = field switch { Field.Month => MonthNames, Field.DayOfWeek => WeekdayNames, _ => null };
        if (names is not null)
        {
            int index = Array.FindIndex(names, n => n.Equals(text, StringComparison.OrdinalIgnoreCase));
            if (index >= 0) return field == Field.Month ? index + 1 : index;
            throw new CronSyntaxException(at.Say(offset, $"{Shown(text)} is not a {(field == Field.Month ? "month" : "weekday")}; expected {low}-{high} or {names[0]}-{names[^1]}"));
        }
        throw new CronSyntaxException(at.Say(offset, text.Length == 0
            ? $"a value is missing; expected {Expected(field)}"
            : $"{Shown(text)} is not a number; expected {Expected(field)}"));
    }

    // Digits only, no sign; more than nine digits is out of any range but must not overflow.
    static bool TryNumber(string text, out int value)
    {
        value = 0;
        if (text.Length == 0) return false;
        foreach (char c in text)
        {
            if (!char.IsAsciiDigit(c)) return false;
            value = value > 99_999_999 ? int.MaxValue : value * 10 + (c - '0');
        }
        return true;
    }

    // "JUL" contains an L and "WED" a W: those letters are only special outside names.
    static bool IsName(string item, int index)
    {
        int start = index, end = index;
        while (start > 0 && char.IsAsciiLetter(item[start - 1])) start--;
        while (end + 1 < item.Length && char.IsAsciiLetter(item[end + 1])) end++;
        return end - start + 1 == 3;
    }

    static string Expected(Field field) => field switch
    {
        Field.DayOfMonth => "1-31, *, ?, a range a-b, a list a,b, a step */n, L, L-n, nW or LW",
        Field.Month => "1-12 or JAN-DEC, *, a range a-b, a list a,b or a step */n",
        Field.DayOfWeek => "0-7 or SUN-SAT, *, ?, a range a-b, a list a,b, a step */n, dL or d#n",
        _ => $"{Lowest[(int)field]}-{Highest[(int)field]}, *, a range a-b, a list a,b or a step */n",
    };

    // Echo user text in messages, but never a wall of it.
    static string Shown(string text) => text.Length > 20 ? $"'{text[..20]}…'" : $"'{text}'";
}
