package dev.tessera.data.uid;

import dev.tessera.data.io.AtomicFiles;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.TreeSet;

/**
 * Streams a sorted uid list into a {@code .npy} file that is byte-for-byte what DataComp's {@code
 * np.save(path, np.array(sorted_uids, np.dtype("u8,u8")))} writes, so lists written here work as
 * DataComp subset filters and the other way round.
 *
 * <p>Uids must arrive strictly increasing (sorted, no duplicates): readers look uids up by binary
 * search. The file is written as {@code name.partial} and renamed into place only by {@link
 * #finish()}; {@link #close()} without {@code finish()} (for instance after an exception) deletes
 * the partial file, so a half-written list never looks finished. Memory use is one fixed buffer,
 * whatever the number of uids.
 *
 * <pre>{@code
 * try (UidListWriter writer = UidListWriter.create(path)) {
 *   for (...) writer.append(hi, lo);
 *   writer.finish();
 * }
 * }</pre>
 */
public final class UidListWriter implements Closeable {

  private static final int BUFFER_BYTES = 1 << 20;
  private static final long UNKNOWN = -1;

  private final Path target;
  private final Path partial;
  private final long expectedCount;
  private final FileChannel channel;
  private final ByteBuffer buffer =
      ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
  private final int headerBytes;

  private long count;
  private long lastHi;
  private long lastLo;
  private boolean finished;
  private boolean closed;

  private UidListWriter(Path target, long expectedCount) throws IOException {
    this.target = target;
    this.partial = AtomicFiles.inProgress(target);
    this.expectedCount = expectedCount;
    Path parent = target.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    this.channel =
        FileChannel.open(
            partial,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE);
    // The count is patched in by finish(); numpy's header has the same length for every count.
    byte[] header = NpyUidFormat.encodeHeader(expectedCount == UNKNOWN ? 0 : expectedCount);
    this.headerBytes = header.length;
    buffer.put(header);
  }

  /**
   * Starts a list of as yet unknown length at {@code target}; the header is completed by {@link
   * #finish()}.
   */
  public static UidListWriter create(Path target) throws IOException {
    return new UidListWriter(target, UNKNOWN);
  }

  /**
   * Starts a list that must hold exactly {@code expectedCount} uids: appending more fails at once,
   * and {@link #finish()} fails if fewer arrived.
   */
  public static UidListWriter create(Path target, long expectedCount) throws IOException {
    if (expectedCount < 0) {
      throw new IllegalArgumentException("expectedCount must be >= 0, got " + expectedCount);
    }
    return new UidListWriter(target, expectedCount);
  }

  /**
   * Writes {@code uids} to {@code target} in sorted order without duplicates, atomically.
   *
   * @return the number of distinct uids written
   */
  public static long write(Path target, Collection<Uid> uids) throws IOException {
    TreeSet<Uid> sorted = new TreeSet<>(uids);
    try (UidListWriter writer = create(target, sorted.size())) {
      for (Uid uid : sorted) {
        writer.append(uid);
      }
      writer.finish();
    }
    return sorted.size();
  }

  /** Appends {@code uid}; see {@link #append(long, long)}. */
  public void append(Uid uid) throws IOException {
    append(uid.hi(), uid.lo());
  }

  /**
   * Appends the uid with unsigned halves {@code hi} ({@code f0}) and {@code lo} ({@code f1}).
   *
   * @throws IllegalArgumentException if it is not greater than the previous uid, or if it is one
   *     more than the expected count
   */
  public void append(long hi, long lo) throws IOException {
    ensureWritable();
    if (count > 0 && Uid.compare(hi, lo, lastHi, lastLo) <= 0) {
      throw new IllegalArgumentException(
          "uid list "
              + target
              + ": the uid at index "
              + count
              + " "
              + new Uid(hi, lo)
              + (hi == lastHi && lo == lastLo ? " repeats" : " is smaller than")
              + " the previous uid "
              + new Uid(lastHi, lastLo)
              + "; uids must be appended sorted and without duplicates");
    }
    if (count == expectedCount) {
      throw new IllegalArgumentException(
          "uid list " + target + ": more uids than the " + expectedCount + " announced");
    }
    if (buffer.remaining() < NpyUidFormat.RECORD_BYTES) {
      flush();
    }
    buffer.putLong(hi).putLong(lo);
    lastHi = hi;
    lastLo = lo;
    count++;
  }

  /** Number of uids appended so far. */
  public long count() {
    return count;
  }

  /**
   * Completes the header, flushes to disk and renames the partial file to the target.
   *
   * @throws IOException if fewer uids than announced were appended (nothing is renamed then)
   */
  public void finish() throws IOException {
    ensureWritable();
    if (expectedCount != UNKNOWN && count != expectedCount) {
      throw new IOException(
          "uid list " + target + ": " + count + " uids appended, " + expectedCount + " announced");
    }
    flush();
    byte[] header = NpyUidFormat.encodeHeader(count);
    if (header.length != headerBytes) {
      throw new IllegalStateException("numpy header length changed with the count: " + count);
    }
    ByteBuffer headerBuffer = ByteBuffer.wrap(header);
    while (headerBuffer.hasRemaining()) {
      channel.write(headerBuffer, headerBuffer.position());
    }
    channel.close();
    AtomicFiles.commit(partial, target);
    finished = true;
  }

  /** Releases the file; without a preceding {@link #finish()} the partial file is deleted. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    channel.close();
    if (!finished) {
      Files.deleteIfExists(partial);
    }
  }

  private void flush() throws IOException {
    buffer.flip();
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
    buffer.clear();
  }

  private void ensureWritable() {
    if (finished || closed) {
      throw new IllegalStateException(
          "uid list writer for " + target + " is " + (finished ? "finished" : "closed"));
    }
  }
}
