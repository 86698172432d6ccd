namespace Ksana.Scheduling;

/// <summary>
/// The answer Ksana gave to a request that carried an <c>Idempotency-Key</c> (SPEC §4), kept so that a
/// repeat gets it again. <see cref="Caller"/> is a digest of the API key (never the key), and
/// <see cref="Request"/> a digest of the method, path and body, so a different request with the same
/// key is told apart. Only 2xx answers are kept: an answer that changed nothing need not be repeated.
/// </summary>
public sealed record RememberedAnswer(
    string Caller,
    string Key,
    string Request,
    DateTimeOffset At,
    int Status,
    string? Location,
    string ContentType,
    string Body)
{
    /// <summary>Roughly what the answer costs in memory and in the journal.</summary>
    public long Size => 2L * (Caller.Length + Key.Length + Request.Length + (Location?.Length ?? 0) + ContentType.Length + Body.Length) + 64;
}

/// <summary>How a request with an idempotency key stands against what is remembered.</summary>
public enum AnswerLookup
{
    /// <summary>Nothing remembered: the caller now holds the key and must end with Remember or Abandon.</summary>
    Started,
    /// <summary>The same request was answered: send that answer again.</summary>
    Replay,
    /// <summary>The key was used by this caller for a different request.</summary>
    Different,
    /// <summary>The same request is still being answered.</summary>
    InProgress,
}

/// <summary>
/// The remembered answers, keyed by (caller, idempotency key), for 24 hours. They live beside the job
/// table because they must reach the same change log, in order with the changes they answer, and be
/// in its compaction snapshots; the table calls <see cref="Add"/>, <see cref="Undo"/> and
/// <see cref="Live"/> under its own lock (taken before this one, never after).
/// </summary>
/// <remarks>
/// Bounded: at most <see cref="CountMax"/> answers and <see cref="BytesMax"/> bytes; past either, the
/// oldest are forgotten first (a repeat of a forgotten request is then served anew). Expired answers
/// are dropped when the next one is added, at replay and from snapshots.
/// </remarks>
public sealed class RememberedAnswers(TimeProvider time)
{
    public static readonly TimeSpan Kept = TimeSpan.FromHours(24);
    public const int CountMax = 100_000;
    public const long BytesMax = 64L << 20;

    sealed class Slot(string request)
    {
        public string Request = request;
        public RememberedAnswer? Answer;
        /// <summary>The answer is on disk: until then a repeat is told "in progress", never a 2xx.</summary>
        public bool Durable;
    }

    readonly Lock _gate = new();
    readonly Dictionary<(string Caller, string Key), Slot> _slots = [];
    readonly List<(long Number, RememberedAnswer Answer)> _order = []; // oldest first, from _head
    int _head;
    long _bytes;

    public int Count
    {
        get { lock (_gate) return _order.Count - _head; }
    }

    /// <summary>Looks the request up and, when nothing is remembered, holds the key for it.</summary>
    public AnswerLookup Begin(string caller, string key, string request, out RememberedAnswer? earlier)
    {
        earlier = null;
        lock (_gate)
        {
            if (_slots.TryGetValue((caller, key), out var slot) && slot.Answer is { } answer && time.GetUtcNow() - answer.At >= Kept)
            {
                _slots.Remove((caller, key));
                slot = null;
            }
            if (slot is null)
            {
                _slots[(caller, key)] = new Slot(request);
                return AnswerLookup.Started;
            }
            if (slot.Request != request) return AnswerLookup.Different;
            if (slot.Answer is null || !slot.Durable) return AnswerLookup.InProgress;
            earlier = slot.Answer;
            return AnswerLookup.Replay;
        }
    }

    /// <summary>Lets go of a key held by <see cref="Begin"/> whose answer is not remembered (not 2xx, or not written).</summary>
    public void Abandon(string caller, string key)
    {
        lock (_gate)
            if (_slots.TryGetValue((caller, key), out var slot) && slot.Answer is null)
                _slots.Remove((caller, key));
    }

    /// <summary>The answer's record is durable: repeats get it from now on.</summary>
    public void Completed(string caller, string key)
    {
        lock (_gate)
            if (_slots.TryGetValue((caller, key), out var slot))
                slot.Durable = true;
    }

    /// <summary>Adds an answer written to the log as change <paramref name="number"/> (0 at replay, where it is durable already).</summary>
    internal void Add(RememberedAnswer answer, long number)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (now - answer.At >= Kept) return;
            var slot = _slots.GetValueOrDefault((answer.Caller, answer.Key));
            if (slot is null) _slots[(answer.Caller, answer.Key)] = slot = new Slot(answer.Request);
            slot.Request = answer.Request;
            slot.Answer = answer;
            slot.Durable |= number == 0;
            _order.Add((number, answer));
            _bytes += answer.Size;
            // Oldest first: expired ones, then whatever is over the bounds.
            while (_head < _order.Count && (now - _order[_head].Answer.At >= Kept
                       || _order.Count - _head > CountMax || _bytes > BytesMax))
                Forget(_order[_head++].Answer);
            if (_head > 1024 && _head * 2 > _order.Count)
            {
                _order.RemoveRange(0, _head);
                _head = 0;
            }
        }
    }

    void Forget(RememberedAnswer answer)
    {
        _bytes -= answer.Size;
        if (_slots.TryGetValue((answer.Caller, answer.Key), out var slot) && ReferenceEquals(slot.Answer, answer))
            _slots.Remove((answer.Caller, answer.Key));
    }

    /// <summary>Forgets answers from change <paramref name="firstLost"/> on: the log did not make them durable.</summary>
    internal void Undo(long firstLost)
    {
        lock (_gate)
            while (_order.Count > _head && _order[^1].Number >= firstLost)
            {
                Forget(_order[^1].Answer);
                _order.RemoveAt(_order.Count - 1);
            }
    }

    /// <summary>The answers younger than <see cref="Kept"/>, oldest first: for a compaction snapshot.</summary>
    internal RememberedAnswer[] Live()
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            var live = new List<RememberedAnswer>(_order.Count - _head);
            for (var i = _head; i < _order.Count; i++)
                if (now - _order[i].Answer.At < Kept && _slots.TryGetValue((_order[i].Answer.Caller, _order[i].Answer.Key), out var slot)
                    && ReferenceEquals(slot.Answer, _order[i].Answer))
                    live.Add(_order[i].Answer);
            return [.. live];
        }
    }
}
