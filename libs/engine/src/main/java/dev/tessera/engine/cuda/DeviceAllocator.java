package dev.tessera.engine.cuda;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * A caching allocator for device memory, as deep-learning frameworks keep one: freed blocks go to a
 * free list by size and are handed out again without a {@code cudaMalloc} (which is slow and
 * synchronises the device). All work runs on one stream, so a block reused after its release is
 * only touched by work queued after everything that used it before.
 *
 * <p>Sizes are rounded up (512 bytes below 1 MiB, 2 MiB above) so that blocks of one layer's
 * tensors, step after step, land in the same bins. A request may take a cached block up to 1/8
 * larger than its rounded size. When the device has no memory left, the allocator returns every
 * cached block to the device and asks the backend to reclaim unreachable tensors (the {@code
 * reclaim} hook) before it gives up with an error that states what is in use and cached.
 *
 * <p>With a {@code site} supplier ({@link #traced}), each block remembers where it was requested,
 * and {@link #peakReport} says which sites held the memory at the peak (the diagnostic behind
 * {@code TESSERA_CUDA_TRACE_MEMORY=1}).
 *
 * <p>The raw memory is behind {@link RawMemory} so that the bookkeeping is tested without a GPU.
 * Thread-safe.
 */
public final class DeviceAllocator {
  /** The device's own allocation calls. */
  public interface RawMemory {
    /** A new block of exactly {@code bytes}, or 0 when the device is out of memory. */
    long allocate(long bytes);

    void free(long address);
  }

  /** An allocated block: its device address and its (rounded) size. */
  public record Block(long address, long bytes) {}

  static final long SMALL_LIMIT = 1L << 20;
  static final long SMALL_ROUND = 512;
  static final long LARGE_ROUND = 2L << 20;

  private final RawMemory raw;
  private final Runnable reclaim;
  private final TreeMap<Long, ArrayDeque<Long>> free = new TreeMap<>();
  private long inUseBytes;
  private long cachedBytes;
  private long peakInUseBytes;
  private long rawAllocations;
  private long reuses;

  /** Where a live block was requested, the bytes asked for and the bytes it holds (traced only). */
  private record Request(String site, long bytes, long held) {}

  private Supplier<String> site;
  private final Map<Long, Request> requests = new HashMap<>();
  private List<SiteTotal> atPeak = List.of();

  /**
   * @param raw the device's allocation calls
   * @param reclaim run when the device is full: frees what can be freed (unreachable tensors) by
   *     calling {@link #release}; may do nothing
   */
  public DeviceAllocator(RawMemory raw, Runnable reclaim) {
    this.raw = raw;
    this.reclaim = reclaim;
  }

  /** The size class a request of {@code bytes} is served from. */
  static long roundUp(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("negative allocation size " + bytes);
    }
    long size = Math.max(bytes, 1);
    long unit = size <= SMALL_LIMIT ? SMALL_ROUND : LARGE_ROUND;
    return (size + unit - 1) / unit * unit;
  }

  /**
   * Remembers from now on where each block is requested ({@code site} is asked at each request),
   * for {@link #peakReport}. Blocks already handed out count as from "before tracing".
   */
  public synchronized void traced(Supplier<String> site) {
    this.site = site;
  }

  /** A block of at least {@code bytes}. */
  public Block allocate(long bytes) {
    Block block = allocateUntraced(bytes);
    if (site != null) {
      String where = site.get();
      synchronized (this) {
        requests.put(block.address(), new Request(where, bytes, block.bytes()));
        if (inUseBytes == peakInUseBytes) {
          atPeak = bySite();
        }
      }
    }
    return block;
  }

  private Block allocateUntraced(long bytes) {
    long size = roundUp(bytes);
    synchronized (this) {
      Block cached = takeCached(size);
      if (cached != null) {
        return cached;
      }
      long address = raw.allocate(size);
      if (address == 0) {
        releaseCachedLocked();
        address = raw.allocate(size);
      }
      if (address != 0) {
        return track(new Block(address, size), true);
      }
    }
    // Out of memory: tensors that are no longer reachable still hold blocks until reclaimed.
    reclaim.run();
    synchronized (this) {
      Block cached = takeCached(size);
      if (cached != null) {
        return cached;
      }
      releaseCachedLocked();
      long address = raw.allocate(size);
      if (address == 0) {
        throw new CudaException(
            "out of device memory: cannot allocate "
                + mib(size)
                + " with "
                + mib(inUseBytes)
                + " in use by live tensors (peak "
                + mib(peakInUseBytes)
                + ")",
            2);
      }
      return track(new Block(address, size), true);
    }
  }

  /** Returns a block to the cache (its memory stays allocated on the device). */
  public synchronized void release(Block block) {
    requests.remove(block.address());
    inUseBytes -= block.bytes();
    cachedBytes += block.bytes();
    free.computeIfAbsent(block.bytes(), k -> new ArrayDeque<>()).push(block.address());
  }

  /** Frees every cached block on the device. */
  public synchronized void releaseCached() {
    releaseCachedLocked();
  }

  private void releaseCachedLocked() {
    for (Map.Entry<Long, ArrayDeque<Long>> bin : free.entrySet()) {
      for (long address : bin.getValue()) {
        raw.free(address);
      }
    }
    free.clear();
    cachedBytes = 0;
  }

  private Block takeCached(long size) {
    Map.Entry<Long, ArrayDeque<Long>> bin = free.ceilingEntry(size);
    if (bin == null || bin.getKey() > size + size / 8) {
      return null;
    }
    long address = bin.getValue().pop();
    if (bin.getValue().isEmpty()) {
      free.remove(bin.getKey());
    }
    cachedBytes -= bin.getKey();
    reuses++;
    return track(new Block(address, bin.getKey()), false);
  }

  private Block track(Block block, boolean fresh) {
    inUseBytes += block.bytes();
    peakInUseBytes = Math.max(peakInUseBytes, inUseBytes);
    if (fresh) {
      rawAllocations++;
    }
    return block;
  }

  /** Bytes in blocks handed out and not yet released. */
  public synchronized long inUseBytes() {
    return inUseBytes;
  }

  /** Bytes in released blocks kept for reuse. */
  public synchronized long cachedBytes() {
    return cachedBytes;
  }

  /** The most bytes in use at any time (since {@link #resetPeak}). */
  public synchronized long peakInUseBytes() {
    return peakInUseBytes;
  }

  /** Starts measuring the peak afresh from what is in use now. */
  public synchronized void resetPeak() {
    peakInUseBytes = inUseBytes;
    if (site != null) {
      atPeak = bySite();
    }
  }

  /**
   * The live bytes requested from one site: how many blocks, what they asked for, what they hold.
   */
  public record SiteTotal(String site, int blocks, long requestedBytes, long heldBytes) {}

  private List<SiteTotal> bySite() {
    Map<String, SiteTotal> totals = new HashMap<>();
    long tracedHeld = 0;
    for (Map.Entry<Long, Request> entry : requests.entrySet()) {
      Request request = entry.getValue();
      long held = request.held();
      totals.merge(
          request.site(),
          new SiteTotal(request.site(), 1, request.bytes(), held),
          (a, b) ->
              new SiteTotal(
                  a.site(),
                  a.blocks() + b.blocks(),
                  a.requestedBytes() + b.requestedBytes(),
                  a.heldBytes() + b.heldBytes()));
      tracedHeld += held;
    }
    List<SiteTotal> sorted = new ArrayList<>(totals.values());
    long untraced = inUseBytes - tracedHeld;
    if (untraced != 0) {
      sorted.add(new SiteTotal("(blocks from before tracing)", 0, 0, untraced));
    }
    sorted.sort(Comparator.comparingLong(SiteTotal::heldBytes).reversed());
    return sorted;
  }

  /**
   * The sites that held memory at the peak since tracing began (or since {@link #resetPeak}), the
   * largest {@code limit} of them; empty when not {@link #traced}.
   */
  public synchronized String peakReport(int limit) {
    if (site == null) {
      return "";
    }
    StringBuilder report = new StringBuilder();
    report.append(
        String.format(
            Locale.ROOT,
            "device memory at the peak (%s), by where it was requested:%n",
            mib(peakInUseBytes)));
    report.append(
        String.format(Locale.ROOT, "%12s %12s %7s  %s%n", "held", "requested", "blocks", "site"));
    for (SiteTotal total : atPeak.subList(0, Math.min(limit, atPeak.size()))) {
      report.append(
          String.format(
              Locale.ROOT,
              "%12s %12s %7d  %s%n",
              mib(total.heldBytes()),
              mib(total.requestedBytes()),
              total.blocks(),
              total.site()));
    }
    return report.toString();
  }

  /** Blocks obtained from the device. */
  public synchronized long rawAllocations() {
    return rawAllocations;
  }

  /** Requests served from the cache. */
  public synchronized long reuses() {
    return reuses;
  }

  static String mib(long bytes) {
    return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }
}
