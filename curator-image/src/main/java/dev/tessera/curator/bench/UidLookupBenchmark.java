package dev.tessera.curator.bench;

import dev.tessera.data.uid.Uid;
import dev.tessera.data.uid.UidIndex;
import dev.tessera.data.uid.UidListWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Times uid lookups in a sorted DataComp uid list through the memory-mapped {@link UidIndex}
 * against an in-heap baseline (binary search over two {@code long[]} arrays holding the same list),
 * in the same run and on the same queries, half present and half absent.
 *
 * <p>Usage: {@code java -cp tessera-curator.jar dev.tessera.curator.bench.UidLookupBenchmark
 * [uids=10000000] [lookups=2000000] [rounds=5] [dir=java.io.tmpdir]}. The list file is deleted at
 * the end. It was just written, so the page cache is warm: this measures the lookup path, not disk
 * reads.
 */
public final class UidLookupBenchmark {

  private final long[] queryHi;
  private final long[] queryLo;

  private UidLookupBenchmark(long[] queryHi, long[] queryLo) {
    this.queryHi = queryHi;
    this.queryLo = queryLo;
  }

  public static void main(String[] args) throws IOException {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 10_000_000;
    int lookups = args.length > 1 ? Integer.parseInt(args[1]) : 2_000_000;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
    Path dir = Path.of(args.length > 3 ? args[3] : System.getProperty("java.io.tmpdir"));
    if (count < 1 || lookups < 2 || rounds < 1) {
      throw new IllegalArgumentException("need uids >= 1, lookups >= 2, rounds >= 1");
    }

    long stride = Long.divideUnsigned(-1L, count);
    Path file = Files.createTempFile(dir, "uid-benchmark-", ".npy");
    try {
      long started = System.nanoTime();
      long[] hi = new long[count];
      long[] lo = new long[count];
      try (UidListWriter writer = UidListWriter.create(file, count)) {
        for (int i = 0; i < count; i++) {
          // Uid i lies in its own slice of the hi range: sorted and unique by construction.
          hi[i] = i * stride + Long.remainderUnsigned(mix(i), stride);
          lo[i] = mix(~(long) i);
          writer.append(hi[i], lo[i]);
        }
        writer.finish();
      }
      System.out.printf(
          Locale.ROOT,
          "wrote %,d uids (%,d bytes) in %.1f s to %s%n",
          count,
          Files.size(file),
          (System.nanoTime() - started) / 1e9,
          file);

      UidLookupBenchmark benchmark = queries(hi, lo, lookups, new SplittableRandom(42));
      try (UidIndex index = UidIndex.open(file)) {
        double mapped = 0;
        double heap = 0;
        // Alternate the two so that both see the same machine state; round 0 is JIT warm-up.
        for (int round = 0; round <= rounds; round++) {
          double mappedRate = benchmark.rate(() -> benchmark.lookUpMapped(index));
          double heapRate = benchmark.rate(() -> benchmark.lookUpInHeap(hi, lo));
          if (round > 0) {
            mapped = Math.max(mapped, mappedRate);
            heap = Math.max(heap, heapRate);
          }
        }
        System.out.printf(
            Locale.ROOT,
            "%,d lookups (half present), best of %d rounds:%n"
                + "  memory-mapped UidIndex: %,.0f lookups/s%n"
                + "  in-heap long[] baseline: %,.0f lookups/s%n"
                + "  mapped / in-heap: %.2f%n",
            lookups,
            rounds,
            mapped,
            heap,
            mapped / heap);
      }
    } finally {
      Files.deleteIfExists(file);
    }
  }

  /** Random queries: even positions hit a random uid, odd ones miss by one flipped lo bit. */
  private static UidLookupBenchmark queries(
      long[] hi, long[] lo, int lookups, SplittableRandom random) {
    long[] queryHi = new long[lookups];
    long[] queryLo = new long[lookups];
    for (int n = 0; n < lookups; n++) {
      int i = random.nextInt(hi.length);
      queryHi[n] = hi[i];
      // hi halves are unique, so another lo under the same hi is certainly absent.
      queryLo[n] = n % 2 == 0 ? lo[i] : lo[i] ^ (1L << random.nextInt(64));
    }
    return new UidLookupBenchmark(queryHi, queryLo);
  }

  private double rate(Lookups lookups) {
    long started = System.nanoTime();
    int found = lookups.run();
    double seconds = (System.nanoTime() - started) / 1e9;
    if (found != (queryHi.length + 1) / 2) {
      throw new IllegalStateException(
          "found " + found + " of " + queryHi.length + " queries; expected exactly half");
    }
    return queryHi.length / seconds;
  }

  private int lookUpMapped(UidIndex index) {
    int found = 0;
    for (int n = 0; n < queryHi.length; n++) {
      if (index.contains(queryHi[n], queryLo[n])) {
        found++;
      }
    }
    return found;
  }

  private int lookUpInHeap(long[] hi, long[] lo) {
    int found = 0;
    for (int n = 0; n < queryHi.length; n++) {
      if (binarySearch(hi, lo, queryHi[n], queryLo[n]) >= 0) {
        found++;
      }
    }
    return found;
  }

  private static int binarySearch(long[] hi, long[] lo, long keyHi, long keyLo) {
    int low = 0;
    int high = hi.length - 1;
    while (low <= high) {
      int mid = (low + high) >>> 1;
      int order = Uid.compare(hi[mid], lo[mid], keyHi, keyLo);
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

  /** SplitMix64's finaliser: a cheap, well-spread hash. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  @FunctionalInterface
  private interface Lookups {
    int run();
  }
}
