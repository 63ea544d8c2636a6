package dev.tessera.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DeviceAllocatorTest {
  /** A device of {@code capacity} bytes that hands out increasing addresses. */
  private static final class FakeDevice implements DeviceAllocator.RawMemory {
    final long capacity;
    final Map<Long, Long> live = new HashMap<>();
    long next = 0x1000;
    long used;
    int allocations;
    int frees;

    FakeDevice(long capacity) {
      this.capacity = capacity;
    }

    @Override
    public long allocate(long bytes) {
      if (used + bytes > capacity) {
        return 0;
      }
      long address = next;
      next += bytes;
      live.put(address, bytes);
      used += bytes;
      allocations++;
      return address;
    }

    @Override
    public void free(long address) {
      Long bytes = live.remove(address);
      assertThat(bytes).as("free of an address that is not allocated").isNotNull();
      used -= bytes;
      frees++;
    }
  }

  @Test
  void roundsSmallRequestsTo512BytesAndLargeOnesTo2MiB() {
    assertThat(DeviceAllocator.roundUp(0)).isEqualTo(512);
    assertThat(DeviceAllocator.roundUp(1)).isEqualTo(512);
    assertThat(DeviceAllocator.roundUp(513)).isEqualTo(1024);
    assertThat(DeviceAllocator.roundUp(1 << 20)).isEqualTo(1 << 20);
    assertThat(DeviceAllocator.roundUp((1 << 20) + 1)).isEqualTo(2L << 20);
    assertThat(DeviceAllocator.roundUp((5L << 20) + 7)).isEqualTo(6L << 20);
    assertThatThrownBy(() -> DeviceAllocator.roundUp(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void releasedBlocksAreReusedWithoutNewDeviceAllocations() {
    FakeDevice device = new FakeDevice(1L << 30);
    DeviceAllocator allocator = new DeviceAllocator(device, () -> {});
    List<DeviceAllocator.Block> first = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      first.add(allocator.allocate(3000 + i * 10_000_000L));
    }
    assertThat(device.allocations).isEqualTo(10);
    first.forEach(allocator::release);
    assertThat(allocator.inUseBytes()).isZero();
    assertThat(allocator.cachedBytes()).isEqualTo(device.used);
    // The same "step" again: every block comes from the cache.
    List<DeviceAllocator.Block> second = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      second.add(allocator.allocate(3000 + i * 10_000_000L));
    }
    assertThat(device.allocations).isEqualTo(10);
    assertThat(allocator.reuses()).isEqualTo(10);
    assertThat(second.stream().map(DeviceAllocator.Block::address))
        .containsExactlyInAnyOrderElementsOf(
            first.stream().map(DeviceAllocator.Block::address).toList());
    assertThat(allocator.cachedBytes()).isZero();
  }

  @Test
  void aCachedBlockServesOnlyRequestsWithinAnEighthOfItsSize() {
    FakeDevice device = new FakeDevice(1L << 30);
    DeviceAllocator allocator = new DeviceAllocator(device, () -> {});
    DeviceAllocator.Block big = allocator.allocate(64L << 20);
    allocator.release(big);
    DeviceAllocator.Block small = allocator.allocate(8L << 20);
    assertThat(small.address()).isNotEqualTo(big.address());
    DeviceAllocator.Block close = allocator.allocate(60L << 20);
    assertThat(close.address()).isEqualTo(big.address());
    assertThat(close.bytes()).isEqualTo(64L << 20);
  }

  @Test
  void tracedRequestsSayWhichSitesHeldTheMemoryAtThePeak() {
    FakeDevice device = new FakeDevice(1L << 30);
    DeviceAllocator allocator = new DeviceAllocator(device, () -> {});
    DeviceAllocator.Block before = allocator.allocate(4L << 20);
    assertThat(allocator.peakReport(10)).as("not traced").isEmpty();
    String[] site = {"weights"};
    allocator.traced(() -> site[0]);
    allocator.allocate(10L << 20);
    site[0] = "logits";
    DeviceAllocator.Block logits = allocator.allocate(64L << 20);
    allocator.release(logits);
    // The peak (78 MiB) is past: a later, smaller set of blocks does not replace it.
    site[0] = "activations";
    allocator.allocate(2L << 20);
    String atFirstPeak = allocator.peakReport(10);
    assertThat(atFirstPeak).startsWith("device memory at the peak (78.0 MiB)");
    assertThat(atFirstPeak.lines().skip(2))
        .containsExactly(
            "    64.0 MiB     64.0 MiB       1  logits",
            "    10.0 MiB     10.0 MiB       1  weights",
            "     4.0 MiB      0.0 MiB       0  (blocks from before tracing)");

    // A 60 MiB request served from the cached 64 MiB block holds more than it asked for.
    site[0] = "logits again";
    allocator.allocate(60L << 20);
    assertThat(allocator.peakReport(2)).startsWith("device memory at the peak (80.0 MiB)");
    assertThat(allocator.peakReport(2).lines().skip(2))
        .as("a new peak: 4 + 10 + 2 + 64 (for 60) MiB, the two largest")
        .containsExactly(
            "    64.0 MiB     60.0 MiB       1  logits again",
            "    10.0 MiB     10.0 MiB       1  weights");
    allocator.release(before);
    allocator.resetPeak();
    assertThat(allocator.peakReport(10)).doesNotContain("before tracing");
  }

  @Test
  void whenTheDeviceIsFullTheCacheIsFreedFirstThenReclaimIsAsked() {
    FakeDevice device = new FakeDevice(110L << 20);
    List<DeviceAllocator.Block> unreachable = new ArrayList<>();
    DeviceAllocator[] holder = new DeviceAllocator[1];
    int[] reclaims = {0};
    holder[0] =
        new DeviceAllocator(
            device,
            () -> {
              reclaims[0]++;
              unreachable.forEach(holder[0]::release);
              unreachable.clear();
            });
    DeviceAllocator allocator = holder[0];
    DeviceAllocator.Block cached = allocator.allocate(40L << 20);
    allocator.release(cached);
    unreachable.add(allocator.allocate(50L << 20)); // would be freed by reclaim only
    // 40 cached + 50 live + 10 fit; then 46 (45 rounded up) fits only once the cache is freed.
    DeviceAllocator.Block a = allocator.allocate(10L << 20);
    assertThat(a).isNotNull();
    assertThat(reclaims[0]).isZero();
    DeviceAllocator.Block b = allocator.allocate(45L << 20);
    assertThat(device.frees).isEqualTo(1);
    assertThat(reclaims[0]).isZero();
    // Now 10 + 46 + 50 in use (capacity 110): the next request needs the reclaimed 50.
    DeviceAllocator.Block c = allocator.allocate(44L << 20);
    assertThat(reclaims[0]).isEqualTo(1);
    assertThat(c.bytes()).isEqualTo(44L << 20);
    assertThat(allocator.inUseBytes()).isEqualTo((10L + 46 + 44) << 20);
    assertThat(b.bytes()).isEqualTo(46L << 20);
  }

  @Test
  void outOfMemoryNamesTheRequestAndWhatIsInUse() {
    FakeDevice device = new FakeDevice(10L << 20);
    DeviceAllocator allocator = new DeviceAllocator(device, () -> {});
    allocator.allocate(6L << 20);
    assertThatThrownBy(() -> allocator.allocate(6L << 20))
        .isInstanceOf(CudaException.class)
        .hasMessageContaining("cannot allocate 6.0 MiB")
        .hasMessageContaining("6.0 MiB in use");
    assertThat(allocator.peakInUseBytes()).isEqualTo(6L << 20);
  }
}
