using System.Buffers;
using Ksana.Scheduling;
using Microsoft.Win32.SafeHandles;

namespace Ksana.Storage;

/// <summary>
/// One compaction of the journal (format and sequence: see <see cref="Journal"/>). The snapshot of
/// the live state is written to journal.jsonl.compact on a background task and synced; the journal's
/// writer then calls <see cref="Finish"/>, which copies the lines appended meanwhile after it,
/// syncs, renames it over journal.jsonl and syncs the directory. A crash at any point leaves either
/// the old file or the new one, each complete.
/// </summary>
internal sealed class Compaction
{
    readonly string _path;
    readonly string _tmp;
    readonly Task _written;
    readonly long _sourceEndOffset;
    SafeFileHandle? _file;
    long _length;

    /// <param name="changes">The live state, captured under the table's lock.</param>
    /// <param name="firstSeq">The first of the block of sequence numbers reserved for the snapshot's lines.</param>
    /// <param name="sourceEndOffset">Where the journal ended when the snapshot was taken: the tail to copy starts there.</param>
    /// <param name="done">Wakes the journal's writer once the snapshot is on disk.</param>
    public Compaction(string path, IEnumerable<Change> changes, long firstSeq, long sourceEndOffset, Action done)
    {
        _path = path;
        _tmp = Path.Combine(Path.GetDirectoryName(path)!, Journal.CompactFileName);
        _sourceEndOffset = sourceEndOffset;
        // A thread of its own: a busy thread pool must not hold the journal's file growing meanwhile.
        _written = Task.Factory.StartNew(() =>
        {
            try
            {
                WriteSnapshot(changes, firstSeq);
            }
            finally
            {
                done();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public bool IsWritten => _written.IsCompleted;

    /// <summary>Blocks until the snapshot is on disk (or failed to be): the writer's brake when appends outrun it.</summary>
    public void WaitWritten() => ((IAsyncResult)_written).AsyncWaitHandle.WaitOne();

    /// <summary>The snapshot's own size, without the tail: what the next compaction is measured against.</summary>
    public long SnapshotLength => _length;

    void WriteSnapshot(IEnumerable<Change> changes, long firstSeq)
    {
        var file = OwnerOnly.Restrict(File.OpenHandle(_tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.None));
        try
        {
            var buffer = new ArrayBufferWriter<byte>(1 << 20);
            var encoder = new LineEncoder();
            long offset = 0;
            var seq = firstSeq;
            foreach (var change in changes)
            {
                encoder.Write(buffer, seq++, change);
                if (buffer.WrittenCount < (1 << 20) - 4096) continue;
                RandomAccess.Write(file, buffer.WrittenSpan, offset);
                offset += buffer.WrittenCount;
                buffer.ResetWrittenCount();
            }
            RandomAccess.Write(file, buffer.WrittenSpan, offset);
            offset += buffer.WrittenCount;
            Durability.SyncData(file, _tmp);
            _length = offset;
            _file = file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Puts the compacted file in place of <paramref name="source"/> (of length <paramref name="sourceLength"/>).
    /// Returns the new file and its length, or null (the old journal stays in use) when anything
    /// before the rename failed. Once the rename is done the new file is the journal, whatever
    /// follows: <c>DirectorySynced</c> false says the rename is not yet known to be durable.
    /// </summary>
    public (SafeFileHandle File, long Length, bool DirectorySynced)? Finish(SafeFileHandle source, long sourceLength, ILogger log)
    {
        var renamed = false;
        try
        {
            _written.GetAwaiter().GetResult();
            var file = _file!;
            // Lines written to the old file while the snapshot was being made follow it in the new file.
            var length = _length;
            var tail = new byte[1 << 20];
            for (var at = _sourceEndOffset; at < sourceLength;)
            {
                var n = RandomAccess.Read(source, tail.AsSpan(0, (int)Math.Min(tail.Length, sourceLength - at)), at);
                RandomAccess.Write(file, tail.AsSpan(0, n), length);
                at += n;
                length += n;
            }
            Durability.SyncData(file, _tmp);
            File.Move(_tmp, _path, overwrite: true);
            renamed = true;
            log.LogInformation("Journal compacted: {Before} bytes to {After} bytes", sourceLength, length);
            try
            {
                Durability.SyncDirectory(Durability.DirectoryOf(_path));
                return (file, length, true);
            }
            catch (IOException e)
            {
                log.LogWarning("Journal compacted, but its directory could not be synced yet: {Error}", e.Message);
                return (file, length, false);
            }
        }
        catch (Exception e) when (!renamed && e is IOException or UnauthorizedAccessException)
        {
            Abandon();
            log.LogWarning("Journal compaction failed, the old journal stays in use: {Error}", e.Message);
            return null;
        }
    }

    /// <summary>Drops the compacted file (on failure, or when the journal closes first).</summary>
    public void Abandon()
    {
        try { _written.Wait(); } catch (AggregateException) { }
        _file?.Dispose();
        _file = null;
        try { File.Delete(_tmp); } catch (IOException) { }
    }
}
