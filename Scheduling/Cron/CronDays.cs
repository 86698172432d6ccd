using System.Numerics;

namespace Ksana.Scheduling.Cron;

/// <summary>
/// The day-of-month and day-of-week fields of a cron expression, turned into the set of days
/// of one month that match. The special forms (L, L-n, nW, LW, dL, d#n) depend on the month's
/// length and the weekday of its first day, so a month is the unit: the search asks for one
/// 31-bit mask per month it visits, and the day, hour, minute and second then follow by bit scans.
/// </summary>
sealed class CronDays
{
    // Bit d (1..31) set: day d of the month, as written ("1,15,20-25").
    public uint DayOfMonth;
    // Bit k set: "L-k", the k-th day before the last (L is L-0).
    public uint LastMinus;
    // Bit d set: "dW", the weekday nearest to day d, within the month.
    public uint NearestWeekday;
    // "LW": the last weekday (Monday to Friday) of the month.
    public bool LastWeekday;
    // Bit w (0 = Sunday .. 6) set: every such weekday.
    public byte DayOfWeek;
    // Bit w set: "wL", the last such weekday of the month.
    public byte LastDayOfWeek;
    // Bit w*5 + (n-1) set: "w#n", the n-th such weekday of the month.
    public ulong NthDayOfWeek;
    // A field written exactly "*" or "?" does not restrict days. When both fields restrict,
    // a day matches if either does (the POSIX crontab rule, SPEC §7); otherwise only the
    // restricting field counts.
    public bool DayOfMonthUnrestricted;
    public bool DayOfWeekUnrestricted;

    /// <summary>Bits 1..<paramref name="length"/> for the matching days of a month.</summary>
    /// <param name="length">Days in the month, 28 to 31.</param>
    /// <param name="firstWeekday">Weekday of its first day, 0 = Sunday.</param>
    public uint Mask(int length, int firstWeekday)
    {
        uint all = ((1u << length) - 1) << 1;
        if (DayOfMonthUnrestricted && DayOfWeekUnrestricted) return all;
        uint days = 0;
        if (!DayOfMonthUnrestricted) days |= MonthDays(length, firstWeekday) & all;
        if (!DayOfWeekUnrestricted) days |= WeekDays(length, firstWeekday) & all;
        return days;
    }

    public uint InMonth(int year, int month) =>
        Mask(DateTime.DaysInMonth(year, month), (int)new DateTime(year, month, 1).DayOfWeek);

    uint MonthDays(int length, int firstWeekday)
    {
        uint days = DayOfMonth;
        for (uint rest = LastMinus; rest != 0; rest &= rest - 1)
        {
            int day = length - BitOperations.TrailingZeroCount(rest);
            if (day >= 1) days |= 1u << day;
        }
        for (uint rest = NearestWeekday; rest != 0; rest &= rest - 1)
        {
            int day = BitOperations.TrailingZeroCount(rest);
            // "31W" in a 30-day month names no day, as "31" alone does not.
            if (day <= length) days |= 1u << Nearest(day, length, firstWeekday);
        }
        if (LastWeekday) days |= 1u << Nearest(length, length, firstWeekday);
        return days;
    }

    // The weekday nearest to the day without leaving the month: Saturday moves back to Friday
    // unless that is in the previous month (1W on a Saturday is Monday the 3rd); Sunday moves to
    // Monday unless that is in the next month (then back to Friday).
    static int Nearest(int day, int length, int firstWeekday)
    {
        int weekday = (firstWeekday + day - 1) % 7;
        return weekday switch
        {
            6 => day > 1 ? day - 1 : day + 2,
            0 => day < length ? day + 1 : day - 2,
            _ => day,
        };
    }

    uint WeekDays(int length, int firstWeekday)
    {
        uint days = 0;
        for (int weekday = 0; weekday < 7; weekday++)
        {
            int first = 1 + (weekday - firstWeekday + 7) % 7;
            if ((DayOfWeek >> weekday & 1) != 0)
                for (int day = first; day <= length; day += 7) days |= 1u << day;
            if ((LastDayOfWeek >> weekday & 1) != 0)
                days |= 1u << (first + (length - first) / 7 * 7);
            for (int n = 1; n <= 5; n++)
            {
                int day = first + 7 * (n - 1);
                if ((NthDayOfWeek >> (weekday * 5 + n - 1) & 1) != 0 && day <= length) days |= 1u << day;
            }
        }
        return days;
    }

    /// <summary>
    /// Whether some month of the calendar has a matching day. Every month starts on every weekday
    /// somewhere in the Gregorian cycle, and February has 29 days in leap years, so trying each
    /// month length with each first weekday is exact ("0 0 30 2 *" never fires, "0 0 29 2 *" does).
    /// </summary>
    public bool CanMatch(ulong months)
    {
        // The common cases without the survey, which costs a few µs: every weekday falls in
        // every month (and a fifth one in some February of a leap year), and days 1-29 and the
        // last 29 days exist in every month of some year.
        const uint FirstDays = 0x3FFF_FFFE;
        if (DayOfMonthUnrestricted || !DayOfWeekUnrestricted) return true;
        if ((DayOfMonth & FirstDays) != 0 || (NearestWeekday & FirstDays) != 0 || (LastMinus & 0x1FFF_FFFF) != 0 || LastWeekday) return true;
        for (int month = 1; month <= 12; month++)
        {
            if ((months >> month & 1) == 0) continue;
            int longest = month == 2 ? 29 : DateTime.DaysInMonth(2001, month);
            for (int length = month == 2 ? 28 : longest; length <= longest; length++)
                for (int firstWeekday = 0; firstWeekday < 7; firstWeekday++)
                    if (Mask(length, firstWeekday) != 0) return true;
        }
        return false;
    }
}
