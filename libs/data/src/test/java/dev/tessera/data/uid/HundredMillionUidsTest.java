package dev.tessera.data.uid;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A list the size of DataComp's larger published subsets: 10⁸ uids, 1.6 GB. Written by streaming
 * and looked up through the memory-mapped index, it must leave the Java heap (-Xmx2g in tests)
 * nearly untouched.
 */
class HundredMillionUidsTest {

  private static final long COUNT = 100_000_000L;
  // Uid i has its hi half in [i * STRIDE, (i + 1) * STRIDE), so the list is sorted and unique by
  // construction, spans the full unsigned range, and any uid can be recomputed from its index.
  private static final long STRIDE = Long.divideUnsigned(-1L, COUNT);
  private static final long MAX_HEAP_GROWTH = 64L << 20;

  @TempDir Path dir;

  @Test
  void writesAndLooksUpAHundredMillionUidsOffHeap() throws IOException {
    Path file = dir.resolve("uids-1e8.npy");
    long started = System.nanoTime();
    try (UidListWriter writer = UidListWriter.create(file, COUNT)) {
      for (long i = 0; i < COUNT; i++) {
        writer.append(hi(i), lo(i));
      }
      writer.finish();
    }
    long written = System.nanoTime();
    assertThat(Files.size(file)).isEqualTo(128 + 16 * COUNT);

    long heapBefore = usedHeapAfterGc();
    SplittableRandom random = new SplittableRandom(0x5eed_0006L);
    try (UidIndex index = UidIndex.open(file)) {
      assertThat(index.size()).isEqualTo(COUNT);
      assertThat(index.get(COUNT - 1)).isEqualTo(new Uid(hi(COUNT - 1), lo(COUNT - 1)));
      assertThat(Long.compareUnsigned(hi(COUNT - 1), Long.MIN_VALUE)).isPositive();

      int lookups = 200_000;
      for (int n = 0; n < lookups; n++) {
        long i = random.nextLong(COUNT);
        assertThat(index.indexOf(hi(i), lo(i))).isEqualTo(i);
        // Same hi, another lo: absent, and placed just before or after uid i.
        long otherLo = lo(i) ^ (1L << random.nextInt(64));
        long insertion = Long.compareUnsigned(otherLo, lo(i)) < 0 ? i : i + 1;
        assertThat(index.indexOf(hi(i), otherLo)).isEqualTo(-insertion - 1);
      }
      assertThat(index.contains(0, 0)).isEqualTo(hi(0) == 0 && lo(0) == 0);
      assertThat(index.indexOf(-1L, -1L)).isEqualTo(-COUNT - 1);
      long looked = System.nanoTime();

      long heapGrowth = usedHeapAfterGc() - heapBefore;
      System.out.printf(
          "10^8 uids: write %.1f s, %d lookups %.2f s, heap growth %d KiB with the index open%n",
          (written - started) / 1e9, 2 * lookups, (looked - written) / 1e9, heapGrowth >> 10);
      assertThat(heapGrowth).isLessThan(MAX_HEAP_GROWTH);
    }
  }

  private static long hi(long i) {
    return i * STRIDE + Long.remainderUnsigned(mix(i), STRIDE);
  }

  private static long lo(long i) {
    return mix(~i);
  }

  /** SplitMix64's finaliser: a cheap, well-spread hash of the index. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  private static long usedHeapAfterGc() {
    System.gc();
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
