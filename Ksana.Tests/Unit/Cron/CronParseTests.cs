using Ksana.Scheduling.Cron;

namespace Ksana.Tests.Unit.Cron;

public class CronParseTests
{
    [Test]
    [Arguments("* * * * *")]
    [Arguments("0 0 * * * *")]
    [Arguments("  30 2 * * MON-FRI  ")]
    [Arguments("30\t2 * * *")]
    [Arguments("0 0 1-15/3,L,L-3,20W,LW * ?")]
    [Arguments("0 0 ? jan-Mar,DEC 1-5,SAT#2,0L")]
    [Arguments("0 0 29 2 *")]
    [Arguments("0 0 31 1,4 *")]
    [Arguments("0 0 31 4 FRI")]
    [Arguments("@Daily")]
    [Arguments(" @weekly ")]
    public async Task Accepts(string text)
    {
        bool ok = CronExpression.TryParse(text, out var cron, out var error);
        await Assert.That(error).IsNull();
        await Assert.That(ok).IsTrue();
        await Assert.That(cron!.Text).IsEqualTo(text);
    }

    [Test]
    // Empty, too long, control characters.
    [Arguments("", "the cron expression is empty")]
    [Arguments("   ", "the cron expression is empty")]
    [Arguments("0 0 * * *\n", "character 10 is a control character (U+000A); separate fields with spaces")]
    [Arguments("0 0\0 * * *", "character 4 is a control character (U+0000); separate fields with spaces")]
    // Too few and too many fields.
    [Arguments("* * * *", "the cron expression has 4 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (second first)")]
    [Arguments("*", "the cron expression has 1 field; expected 5 (minute hour day-of-month month day-of-week) or 6 (second first)")]
    [Arguments("0 0 0 * * * *", "at character 13: the cron expression has 7 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (second first)")]
    // Out of range.
    [Arguments("0 25 * * *", "field 2 (hour) at character 3: 25 is out of range 0-23")]
    [Arguments("60 * * * *", "field 1 (minute) at character 1: 60 is out of range 0-59")]
    [Arguments("60 * * * * *", "field 1 (second) at character 1: 60 is out of range 0-59")]
    [Arguments("0 0 0 * *", "field 3 (day-of-month) at character 5: 0 is out of range 1-31")]
    [Arguments("0 0 32 * *", "field 3 (day-of-month) at character 5: 32 is out of range 1-31")]
    [Arguments("0 0 * 13 *", "field 4 (month) at character 7: 13 is out of range 1-12")]
    [Arguments("0 0 * * 8", "field 5 (day-of-week) at character 9: 8 is out of range 0-7")]
    [Arguments("0 1-24 * * *", "field 2 (hour) at character 5: 24 is out of range 0-23")]
    [Arguments("0 99999999999 * * *", "field 2 (hour) at character 3: '99999999999' is out of range 0-23")]
    [Arguments("0 5-2 * * *", "field 2 (hour) at character 3: the range '5-2' runs backwards; write the smaller value first")]
    // Bad names and bad tokens.
    [Arguments("0 0 * JAM *", "field 4 (month) at character 7: 'JAM' is not a month; expected 1-12 or JAN-DEC")]
    [Arguments("0 0 * * FRY", "field 5 (day-of-week) at character 9: 'FRY' is not a weekday; expected 0-7 or SUN-SAT")]
    [Arguments("0 0 * MON *", "field 4 (month) at character 7: 'MON' is not a month; expected 1-12 or JAN-DEC")]
    [Arguments("x * * * *", "field 1 (minute) at character 1: 'x' is not a number; expected 0-59, *, a range a-b, a list a,b or a step */n")]
    [Arguments("0 -1 * * *", "field 2 (hour) at character 3: a value is missing; expected 0-23, *, a range a-b, a list a,b or a step */n")]
    [Arguments("0 1,,2 * * *", "field 2 (hour) at character 5: empty list item in '1,,2'; expected 0-23, *, a range a-b, a list a,b or a step */n")]
    [Arguments("@every 5m", "at character 1: unknown macro '@every'; expected one of @yearly @annually @monthly @weekly @daily @midnight @hourly")]
    [Arguments("@daily 0", "at character 8: a macro such as @daily stands alone; nothing may follow it")]
    // Steps.
    [Arguments("*/0 * * * *", "field 1 (minute) at character 3: step 0 is out of range 1-60")]
    [Arguments("0 */25 * * *", "field 2 (hour) at character 5: step 25 is out of range 1-24")]
    [Arguments("*/x * * * *", "field 1 (minute) at character 3: 'x' is not a step; expected a number 1-60 after /")]
    [Arguments("*/ * * * *", "field 1 (minute) at character 3: '' is not a step; expected a number 1-60 after /")]
    // L, W, # and ? in the wrong field or shape.
    [Arguments("L * * * *", "field 1 (minute) at character 1: L (the last day) is only allowed in day-of-month and day-of-week; expected 0-59, *, a range a-b, a list a,b or a step */n")]
    [Arguments("0 0 * 5W *", "field 4 (month) at character 8: W (the nearest weekday) is only allowed in day-of-month; expected 1-12 or JAN-DEC, *, a range a-b, a list a,b or a step */n")]
    [Arguments("0 0 1#2 * *", "field 3 (day-of-month) at character 6: # (the n-th weekday) is only allowed in day-of-week; expected 1-31, *, ?, a range a-b, a list a,b, a step */n, L, L-n, nW or LW")]
    [Arguments("? * * * *", "field 1 (minute) at character 1: ? is only allowed in day-of-month and day-of-week; expected 0-59, *, a range a-b, a list a,b or a step */n")]
    [Arguments("0 0 ?,1 * *", "field 3 (day-of-month) at character 5: ? stands alone in its field, not in a list")]
    [Arguments("0 0 * * 1#6", "field 5 (day-of-week) at character 11: '6' after # is out of range; expected which occurrence in the month, 1-5")]
    [Arguments("0 0 * * 1#0", "field 5 (day-of-week) at character 11: '0' after # is out of range; expected which occurrence in the month, 1-5")]
    [Arguments("0 0 * * 8#1", "field 5 (day-of-week) at character 9: 8 is out of range 0-7")]
    [Arguments("0 0 * * L", "field 5 (day-of-week) at character 9: L in day-of-week needs a weekday before it, as in 5L or FRIL (the last Friday of the month)")]
    [Arguments("0 0 32W * *", "field 3 (day-of-month) at character 5: 32 is out of range 1-31")]
    [Arguments("0 0 1-5W * *", "field 3 (day-of-month) at character 5: '1-5W' is not a day; W follows a single day of the month, as in 15W, or L, as in LW")]
    [Arguments("0 0 L-31 * *", "field 3 (day-of-month) at character 7: '31' after L- is out of range; expected a number of days 0-30 before the last day")]
    [Arguments("0 0 5L * *", "field 3 (day-of-month) at character 6: '5L' is not a valid use of L; expected 1-31, *, ?, a range a-b, a list a,b, a step */n, L, L-n, nW or LW")]
    // Expressions that can never fire.
    [Arguments("0 0 30 2 *", "the cron expression never fires: no month it names has a day matching day-of-month '30'")]
    [Arguments("0 0 31 4 *", "the cron expression never fires: no month it names has a day matching day-of-month '31'")]
    [Arguments("0 0 31 2,4,6,9,11 *", "the cron expression never fires: no month it names has a day matching day-of-month '31'")]
    [Arguments("0 0 30W 2 ?", "the cron expression never fires: no month it names has a day matching day-of-month '30W'")]
    public async Task Rejects(string text, string expected)
    {
        bool ok = CronExpression.TryParse(text, out var cron, out var error);
        await Assert.That(ok).IsFalse();
        await Assert.That(cron).IsNull();
        await Assert.That(error).IsEqualTo(expected);
    }

    [Test]
    public async Task Rejects_null_and_overly_long_text()
    {
        await Assert.That(CronExpression.TryParse(null, out _, out var error)).IsFalse();
        await Assert.That(error).IsEqualTo("the cron expression is empty");
        string huge = "0 0 * * " + string.Join(",", Enumerable.Repeat("1", 600));
        await Assert.That(CronExpression.TryParse(huge, out _, out error)).IsFalse();
        await Assert.That(error).IsEqualTo($"the cron expression is {huge.Length} characters long; at most 1000 are allowed");
    }

    [Test]
    public async Task Identical_text_shares_one_parsed_expression()
    {
        CronExpression.TryParse("7 7 7 7 *", out var a, out _);
        CronExpression.TryParse("7 7 7 7 *", out var b, out _);
        await Assert.That(ReferenceEquals(a, b)).IsTrue();
    }

    [Test]
    [Arguments("30 2 * * *", false)]
    [Arguments("0,30 2 * * *", false)]
    [Arguments("0 0 2 * * *", false)]
    [Arguments("@daily", false)]
    [Arguments("*/30 * * * *", true)]
    [Arguments("30 2-3 * * *", true)]
    [Arguments("0/5 2 * * *", true)]
    [Arguments("* 0 2 * * *", true)]
    [Arguments("@hourly", true)]
    [Arguments("0 0 1-5 * *", false)]
    public async Task Interval_expressions_are_those_with_star_dash_or_slash_in_second_minute_or_hour(string text, bool interval)
    {
        CronExpression.TryParse(text, out var cron, out _);
        await Assert.That(cron!.IsInterval).IsEqualTo(interval);
    }
}
