package dev.tessera.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StagingRingTest {
  /** A device whose copies run only when the host waits for them (the worst case for the ring). */
  private static final class LazyDevice implements StagingRing.Fences<Integer> {
    int issued;
    int completed = -1;
    int waits;
    final Set<Integer> retired = new HashSet<>();

    int record() {
      return issued++;
    }

    @Override
    public void await(Integer fence) {
      waits++;
      completed = Math.max(completed, fence);
    }

    @Override
    public void retire(Integer fence) {
      assertThat(fence).as("a fence retired before it completed").isLessThanOrEqualTo(completed);
      assertThat(retired.add(fence)).as("fence %d retired twice", fence).isTrue();
    }
  }

  private record Region(long offset, long bytes, int fence) {}

  @Test
  void regionsNeverOverlapACopyTheDeviceHasNotRun() {
    Random random = new Random(7);
    for (long capacity : new long[] {64, 1000, 4096}) {
      LazyDevice device = new LazyDevice();
      StagingRing<Integer> ring = new StagingRing<>(capacity, device);
      List<Region> copies = new ArrayList<>();
      for (int i = 0; i < 5000; i++) {
        long bytes = 1 + random.nextInt((int) capacity);
        long offset = ring.reserve(bytes);
        assertThat(offset).isBetween(0L, capacity - bytes);
        for (Region copy : copies) {
          boolean overlaps =
              offset < copy.offset() + copy.bytes() && copy.offset() < offset + bytes;
          if (overlaps) {
            assertThat(copy.fence())
                .as("region %d+%d reused while copy %s may still run", offset, bytes, copy)
                .isLessThanOrEqualTo(device.completed);
          }
        }
        int fence = device.record();
        ring.queued(fence);
        copies.add(new Region(offset, bytes, fence));
        if (random.nextInt(50) == 0) {
          ring.awaitAll();
          assertThat(device.completed).isEqualTo(fence);
          assertThat(ring.inFlight()).isZero();
        }
      }
      ring.awaitAll();
      assertThat(device.retired).hasSize(device.issued);
    }
  }

  @Test
  void theHostWaitsOnlyWhenTheRingWrapsOntoAPendingCopy() {
    LazyDevice device = new LazyDevice();
    StagingRing<Integer> ring = new StagingRing<>(100, device);
    assertThat(ring.reserve(40)).isEqualTo(0);
    ring.queued(device.record());
    assertThat(ring.reserve(40)).isEqualTo(40);
    ring.queued(device.record());
    assertThat(device.waits).isZero();
    assertThat(ring.inFlight()).isEqualTo(2);

    // 30 bytes do not fit in the 20-byte tail: the region starts over at 0, where copy 0 was.
    assertThat(ring.reserve(30)).isEqualTo(0);
    assertThat(device.waits).isEqualTo(1);
    assertThat(device.completed).isEqualTo(0);
    assertThat(device.retired).containsExactly(0);
    ring.queued(device.record());

    // 30..60 overlaps copy 1 (40..80), which has not run.
    assertThat(ring.reserve(30)).isEqualTo(30);
    assertThat(device.completed).isEqualTo(1);
    ring.queued(device.record());
  }

  @Test
  void aReservationWhoseCopyFailedIsReplacedByTheNext() {
    LazyDevice device = new LazyDevice();
    StagingRing<Integer> ring = new StagingRing<>(100, device);
    ring.reserve(10); // the copy fails to queue: no fence
    assertThat(ring.reserve(10)).isEqualTo(10);
    ring.queued(device.record());
    assertThat(ring.inFlight()).isEqualTo(1);
  }

  @Test
  void badSizesAndOrderAreRefused() {
    LazyDevice device = new LazyDevice();
    assertThatThrownBy(() -> new StagingRing<>(0, device))
        .hasMessageContaining("staging capacity must be positive");
    StagingRing<Integer> ring = new StagingRing<>(100, device);
    assertThatThrownBy(() -> ring.reserve(101)).hasMessageContaining("101 bytes");
    assertThatThrownBy(() -> ring.reserve(0)).hasMessageContaining("0 bytes");
    assertThatThrownBy(() -> ring.queued(1)).hasMessageContaining("no staging region");
  }
}
