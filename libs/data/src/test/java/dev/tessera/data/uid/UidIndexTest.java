package dev.tessera.data.uid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class UidIndexTest {

  @TempDir Path dir;
  private final Random random = new Random(0x5eed_0004L);

  /** Segments of 1, 2, 8 and 64 records, and the default, with a list size that is no multiple. */
  @ParameterizedTest
  @ValueSource(longs = {16, 32, 128, 1024, UidIndex.DEFAULT_SEGMENT_BYTES})
  void lookupsAgreeWithABinarySearchOverTheSortedList(long segmentBytes) throws IOException {
    List<Uid> uids = RandomUids.sortedDistinct(random, 1_237);
    Path file = dir.resolve("list.npy");
    UidListWriter.write(file, uids);

    try (UidIndex index = new UidIndex(file, segmentBytes)) {
      assertThat(index.size()).isEqualTo(uids.size());
      for (int i = 0; i < uids.size(); i++) {
        Uid uid = uids.get(i);
        assertThat(index.get(i)).isEqualTo(uid);
        assertThat(index.hi(i)).isEqualTo(uid.hi());
        assertThat(index.lo(i)).isEqualTo(uid.lo());
        assertThat(index.indexOf(uid)).isEqualTo(i);
        assertThat(index.contains(uid)).isTrue();
      }
      for (Uid absent : RandomUids.unsorted(random, 3_000)) {
        long expected = Collections.binarySearch(uids, absent);
        assertThat(index.indexOf(absent)).isEqualTo(expected);
        assertThat(index.contains(absent.hi(), absent.lo())).isEqualTo(expected >= 0);
      }
      assertThat(index.stream().toList()).isEqualTo(uids);
      List<Uid> iterated = new ArrayList<>();
      index.forEach(iterated::add);
      assertThat(iterated).isEqualTo(uids);
      assertThat(index.firstUnsortedIndex()).isEqualTo(-1);
    }
  }

  @Test
  void neighboursOfEverySegmentBoundaryAreFoundOrPlacedExactly() throws IOException {
    // Uids two apart, so uid ± 1 is always absent and falls between neighbours.
    List<Uid> uids = new ArrayList<>();
    long start = 0x7fff_ffff_ffff_ff00L; // crosses into the top-bit-set half
    for (int i = 0; i < 400; i++) {
      uids.add(new Uid(start + (i / 3), (i % 3) * 2L - 2));
    }
    Collections.sort(uids);
    Path file = dir.resolve("list.npy");
    UidListWriter.write(file, uids);

    try (UidIndex index = new UidIndex(file, 64)) { // 4 records per segment
      for (int i = 0; i < uids.size(); i++) {
        Uid uid = uids.get(i);
        assertThat(index.indexOf(uid)).isEqualTo(i);
        assertThat(index.indexOf(new Uid(uid.hi(), uid.lo() + 1))).isEqualTo(-(i + 1) - 1);
      }
      assertThat(index.indexOf(new Uid(0, 0))).isEqualTo(-1);
      assertThat(index.indexOf(new Uid(-1, -1))).isEqualTo(-uids.size() - 1);
    }
  }

  @Test
  void emptyListHasNothing() throws IOException {
    Path file = dir.resolve("empty.npy");
    UidListWriter.write(file, List.of());

    try (UidIndex index = new UidIndex(file, 16)) {
      assertThat(index.size()).isZero();
      assertThat(index.indexOf(new Uid(random.nextLong(), random.nextLong()))).isEqualTo(-1);
      assertThat(index.iterator().hasNext()).isFalse();
      index.verifySorted();
    }
  }

  @Test
  void verifySortedReportsTheFirstOutOfOrderIndex() throws IOException {
    List<Uid> uids = new ArrayList<>(RandomUids.sortedDistinct(random, 500));
    int swapped = 100 + random.nextInt(300);
    Collections.swap(uids, swapped, swapped + 1);
    Path file = dir.resolve("unsorted.npy");
    Files.write(
        file, NpyFiles.file(1, NpyFiles.dict(NpyFiles.GOOD_DESCR, 500), NpyFiles.records(uids)));

    try (UidIndex index = new UidIndex(file, 256)) {
      assertThat(index.firstUnsortedIndex()).isEqualTo(swapped + 1);
      assertThatThrownBy(index::verifySorted)
          .isInstanceOf(IOException.class)
          .hasMessageContaining(file.toString())
          .hasMessageContaining("not sorted")
          .hasMessageContaining("index " + (swapped + 1))
          .hasMessageContaining(uids.get(swapped + 1).toString());
    }
  }

  @Test
  void verifySortedReportsDuplicates() throws IOException {
    List<Uid> uids = new ArrayList<>(RandomUids.sortedDistinct(random, 300));
    int duplicate = 1 + random.nextInt(298);
    uids.set(duplicate, uids.get(duplicate - 1));
    Path file = dir.resolve("duplicates.npy");
    Files.write(
        file, NpyFiles.file(1, NpyFiles.dict(NpyFiles.GOOD_DESCR, 300), NpyFiles.records(uids)));

    try (UidIndex index = UidIndex.open(file)) {
      assertThatThrownBy(index::verifySorted)
          .hasMessageContaining("index " + duplicate)
          .hasMessageContaining("repeats");
    }
  }

  @Test
  void verifySortedUsesUnsignedOrder() throws IOException {
    // Signed order would call this list unsorted: 0x8000... is negative as a long.
    List<Uid> uids = List.of(new Uid(1, 5), new Uid(Long.MIN_VALUE, 0), new Uid(-1, 3));
    Path file = dir.resolve("list.npy");
    Files.write(
        file, NpyFiles.file(1, NpyFiles.dict(NpyFiles.GOOD_DESCR, 3), NpyFiles.records(uids)));

    try (UidIndex index = new UidIndex(file, 16)) {
      index.verifySorted();
      assertThat(index.indexOf(new Uid(Long.MIN_VALUE, 0))).isEqualTo(1);
      assertThat(index.indexOf(new Uid(Long.MAX_VALUE, 0))).isEqualTo(-2);
    }
  }

  @Test
  void indexOutOfRangeAndUseAfterCloseFailClearly() throws IOException {
    Path file = dir.resolve("list.npy");
    UidListWriter.write(file, RandomUids.sortedDistinct(random, 10));
    UidIndex index = UidIndex.open(file);

    assertThatThrownBy(() -> index.get(10))
        .isInstanceOf(IndexOutOfBoundsException.class)
        .hasMessageContaining("index 10");
    assertThatThrownBy(() -> index.hi(-1)).isInstanceOf(IndexOutOfBoundsException.class);
    index.close();
    assertThatThrownBy(() -> index.contains(new Uid(1, 2)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void segmentSizeMustBeAPowerOfTwoOfWholeRecords() throws IOException {
    Path file = dir.resolve("list.npy");
    UidListWriter.write(file, RandomUids.sortedDistinct(random, 10));

    for (long bad : new long[] {0, 8, 48, 1L << 31}) {
      assertThatThrownBy(() -> new UidIndex(file, bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("power of two");
    }
  }
}
