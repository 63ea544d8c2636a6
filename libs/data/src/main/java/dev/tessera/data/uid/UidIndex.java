package dev.tessera.data.uid;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.stream.LongStream;
import java.util.stream.Stream;

/**
 * A sorted DataComp uid list ({@code .npy}, dtype {@code u8,u8}) opened for lookups by memory
 * mapping: the uids stay in the operating system's page cache and never enter the Java heap, so
 * lists of 10⁸ uids (1.6 GB) and beyond cost a few objects of heap.
 *
 * <p>Java 17 maps at most 2 GiB per buffer, so the data is mapped as several segments of a
 * power-of-two number of 16-byte records; a record never straddles two segments.
 *
 * <p>Lookups assume the list is sorted and unique, as DataComp publishes it and {@link
 * UidListWriter} writes it; {@link #verifySorted()} checks that in one pass. Reads are safe from
 * several threads at once. After {@link #close()} every method fails with {@link
 * IllegalStateException}; the mappings themselves are released by the garbage collector, as Java 17
 * offers no way to unmap them explicitly.
 */
public final class UidIndex implements Closeable, Iterable<Uid> {

  /** Default bytes per mapped segment: 1 GiB, a power of two below Java's 2 GiB limit. */
  static final long DEFAULT_SEGMENT_BYTES = 1L << 30;

  private static final int RECORD_SHIFT = 4; // 16 bytes per record

  private final Path file;
  private final long size;
  private final int recordsPerSegmentShift;
  private final long recordInSegmentMask;
  private MappedByteBuffer[] segments;

  /**
   * Opens and maps {@code file}, checking its header but not its order (see {@link
   * #verifySorted()}).
   */
  public static UidIndex open(Path file) throws IOException {
    return new UidIndex(file, DEFAULT_SEGMENT_BYTES);
  }

  /**
   * Opens {@code file} mapped in segments of {@code segmentBytes}, a power of two between 16 bytes
   * and 1 GiB; tests use tiny segments to exercise lookups across segment boundaries.
   */
  UidIndex(Path file, long segmentBytes) throws IOException {
    if (segmentBytes < NpyUidFormat.RECORD_BYTES
        || segmentBytes > DEFAULT_SEGMENT_BYTES
        || Long.bitCount(segmentBytes) != 1) {
      throw new IllegalArgumentException(
          "segmentBytes must be a power of two between 16 and 2^30, got " + segmentBytes);
    }
    this.file = file;
    this.recordsPerSegmentShift = Long.numberOfTrailingZeros(segmentBytes) - RECORD_SHIFT;
    this.recordInSegmentMask = (1L << recordsPerSegmentShift) - 1;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      NpyUidFormat.Header header = NpyUidFormat.readHeader(file, channel);
      this.size = header.count();
      long segmentCount = (size + recordInSegmentMask) >>> recordsPerSegmentShift;
      if (segmentCount > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(
            "segmentBytes " + segmentBytes + " would need " + segmentCount + " segments");
      }
      // A mapping stays valid after its channel is closed.
      segments = new MappedByteBuffer[(int) segmentCount];
      long totalBytes = size << RECORD_SHIFT;
      for (int i = 0; i < segments.length; i++) {
        long offset = (long) i * segmentBytes;
        long length = Math.min(segmentBytes, totalBytes - offset);
        MappedByteBuffer segment =
            channel.map(FileChannel.MapMode.READ_ONLY, header.dataOffset() + offset, length);
        segment.order(ByteOrder.LITTLE_ENDIAN);
        segments[i] = segment;
      }
    }
  }

  /** The mapped file. */
  public Path file() {
    return file;
  }

  /** Number of uids in the list. */
  public long size() {
    ensureOpen();
    return size;
  }

  /** The uid at {@code index} (0-based, in list order). */
  public Uid get(long index) {
    checkIndex(index);
    return new Uid(hiAt(index), loAt(index));
  }

  /** The unsigned high half ({@code f0}) of the uid at {@code index}, without allocating. */
  public long hi(long index) {
    checkIndex(index);
    return hiAt(index);
  }

  /** The unsigned low half ({@code f1}) of the uid at {@code index}, without allocating. */
  public long lo(long index) {
    checkIndex(index);
    return loAt(index);
  }

  /** Whether the list holds {@code uid}. */
  public boolean contains(Uid uid) {
    return indexOf(uid.hi(), uid.lo()) >= 0;
  }

  /** Whether the list holds the uid with unsigned halves {@code hi} and {@code lo}. */
  public boolean contains(long hi, long lo) {
    return indexOf(hi, lo) >= 0;
  }

  /** See {@link #indexOf(long, long)}. */
  public long indexOf(Uid uid) {
    return indexOf(uid.hi(), uid.lo());
  }

  /**
   * Binary search with unsigned comparison, like {@link java.util.Arrays#binarySearch(long[],
   * long)}: the index of the uid if present, otherwise {@code -(insertion point) - 1}.
   */
  public long indexOf(long hi, long lo) {
    ensureOpen();
    long low = 0;
    long high = size - 1;
    while (low <= high) {
      long mid = (low + high) >>> 1;
      int order = Uid.compare(hiAt(mid), loAt(mid), hi, lo);
      if (order < 0) {
        low = mid + 1;
      } else if (order > 0) {
        high = mid - 1;
      } else {
        return mid;
      }
    }
    return -(low + 1);
  }

  /** The uids in list order. */
  @Override
  public Iterator<Uid> iterator() {
    ensureOpen();
    return new Iterator<>() {
      private long next;

      @Override
      public boolean hasNext() {
        return next < size;
      }

      @Override
      public Uid next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return get(next++);
      }
    };
  }

  /** The uids in list order; splits well for parallel streams. */
  public Stream<Uid> stream() {
    ensureOpen();
    return LongStream.range(0, size).mapToObj(this::get);
  }

  /**
   * The first index whose uid is not greater than the one before it, or -1 if the list is sorted
   * and free of duplicates. Reads the whole list once.
   */
  public long firstUnsortedIndex() {
    ensureOpen();
    for (long i = 1; i < size; i++) {
      if (Uid.compare(hiAt(i - 1), loAt(i - 1), hiAt(i), loAt(i)) >= 0) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Checks in one pass that the list is sorted and free of duplicates, as lookups require.
   *
   * @throws IOException naming the file and the first out-of-order index
   */
  public void verifySorted() throws IOException {
    long index = firstUnsortedIndex();
    if (index >= 0) {
      Uid previous = get(index - 1);
      Uid current = get(index);
      throw NpyUidFormat.problem(
          file,
          "is not sorted: the uid at index "
              + index
              + " ("
              + current
              + ")"
              + (current.equals(previous) ? " repeats" : " is smaller than")
              + " the one at index "
              + (index - 1)
              + " ("
              + previous
              + ")");
    }
  }

  /** Drops the mappings; later calls fail with {@link IllegalStateException}. */
  @Override
  public void close() {
    segments = null;
  }

  private long hiAt(long index) {
    return segments[(int) (index >>> recordsPerSegmentShift)].getLong(offsetInSegment(index));
  }

  private long loAt(long index) {
    return segments[(int) (index >>> recordsPerSegmentShift)].getLong(offsetInSegment(index) + 8);
  }

  private int offsetInSegment(long index) {
    return (int) ((index & recordInSegmentMask) << RECORD_SHIFT);
  }

  private void checkIndex(long index) {
    ensureOpen();
    if (index < 0 || index >= size) {
      throw new IndexOutOfBoundsException(
          "index " + index + " out of range for uid list " + file + " of " + size + " uids");
    }
  }

  private void ensureOpen() {
    if (segments == null) {
      throw new IllegalStateException("uid list " + file + " is closed");
    }
  }
}
