package dev.tessera.engine.cuda;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Bookkeeping of the backend's pinned staging buffer, through which every copy between host and
 * device memory passes. Copies from pinned memory are asynchronous: the host writes a region, the
 * stream copies it later. So the buffer is used as a ring, each queued copy's region is remembered
 * with a fence (a CUDA event recorded after the copy), and a region is handed out again only when
 * the copies that last used it have run. The host waits only when the ring has wrapped around onto
 * a copy the device has not reached yet.
 *
 * <p>Fences complete in the order they were queued (one stream), so waiting for a later one covers
 * the earlier ones. Not thread-safe: the backend serialises its copies.
 *
 * @param <F> the fence type (a CUDA event; tests use their own)
 */
final class StagingRing<F> {
  /** What the ring needs from the device. */
  interface Fences<F> {
    /** Blocks until the device has run everything queued before {@code fence}. */
    void await(F fence);

    /** {@code fence} has completed and is not waited on again: it may be recorded anew. */
    void retire(F fence);
  }

  private record InFlight<F>(long start, long end, F fence) {}

  private final long capacity;
  private final Fences<F> fences;
  private final ArrayDeque<InFlight<F>> inFlight = new ArrayDeque<>();

  /** Bytes handed out so far, counting skipped tails: a region's offset is its start % capacity. */
  private long head;

  private long reservedStart = -1;

  StagingRing(long capacity, Fences<F> fences) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("staging capacity must be positive, got " + capacity);
    }
    this.capacity = capacity;
    this.fences = fences;
  }

  long capacity() {
    return capacity;
  }

  /**
   * Offset of {@code bytes} contiguous bytes of the buffer that no queued copy uses any more. A
   * region never wraps: when the tail is too short the reservation starts at offset 0. Follow it
   * with {@link #queued} once the copy through it is queued; a reservation whose copy failed to
   * queue is simply replaced by the next one.
   */
  long reserve(long bytes) {
    if (bytes <= 0 || bytes > capacity) {
      throw new IllegalArgumentException(
          "a staging region of " + bytes + " bytes (the buffer holds " + capacity + ")");
    }
    long start = head;
    long offset = start % capacity;
    if (offset + bytes > capacity) {
      start += capacity - offset;
    }
    long end = start + bytes;
    // Bytes [start, end) were last used by the copies that started before end - capacity.
    List<InFlight<F>> reused = new ArrayList<>();
    while (!inFlight.isEmpty() && inFlight.peekFirst().start() < end - capacity) {
      reused.add(inFlight.pollFirst());
    }
    if (!reused.isEmpty()) {
      fences.await(reused.get(reused.size() - 1).fence());
      reused.forEach(copy -> fences.retire(copy.fence()));
    }
    head = end;
    reservedStart = start;
    return start % capacity;
  }

  /** The copy through the last reserved region is queued; {@code fence} completes after it. */
  void queued(F fence) {
    if (reservedStart < 0) {
      throw new IllegalStateException("no staging region was reserved");
    }
    inFlight.addLast(new InFlight<>(reservedStart, head, fence));
    reservedStart = -1;
  }

  /** Waits for every queued copy: before the host reads what a copy to it wrote. */
  void awaitAll() {
    if (inFlight.isEmpty()) {
      return;
    }
    fences.await(inFlight.peekLast().fence());
    inFlight.forEach(copy -> fences.retire(copy.fence()));
    inFlight.clear();
  }

  /** Copies queued and not yet known to have run. */
  int inFlight() {
    return inFlight.size();
  }
}
