namespace Ksana.Wire;

public static class Clock
{
    /// <summary>
    /// Times Ksana records are kept to the millisecond: they are shown to people and compared by
    /// machines, and seven fractional digits help neither.
    /// </summary>
    public static DateTimeOffset Millis(DateTimeOffset t) =>
        new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero);
}
