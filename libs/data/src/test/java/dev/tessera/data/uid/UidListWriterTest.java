package dev.tessera.data.uid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.data.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UidListWriterTest {

  @TempDir Path dir;
  private final Random random = new Random(0x5eed_0002L);

  @Test
  void writtenListReadsBackInOrder() throws IOException {
    List<Uid> uids = RandomUids.sortedDistinct(random, 5_000);
    Path file = dir.resolve("list.npy");
    try (UidListWriter writer = UidListWriter.create(file)) {
      uids.forEach(uid -> append(writer, uid));
      assertThat(writer.count()).isEqualTo(uids.size());
      writer.finish();
    }

    assertThat(Files.size(file)).isEqualTo(128 + 16L * uids.size());
    assertThat(Files.exists(AtomicFiles.inProgress(file))).isFalse();
    try (UidIndex index = UidIndex.open(file)) {
      assertThat(index.size()).isEqualTo(uids.size());
      assertThat(index.stream().toList()).isEqualTo(uids);
    }
  }

  @Test
  void bytesEqualWhatNumpySavedForTheSameUids() throws IOException {
    Path file = dir.resolve("ours.npy");
    UidListWriter.write(file, NpyFiles.fixtureUids());

    assertThat(Files.readAllBytes(file)).isEqualTo(NpyFiles.resource("numpy-save-10.npy"));
  }

  @Test
  void headerOfEmptyListIsNumpysHeaderForShapeZero() throws IOException {
    Path file = dir.resolve("empty.npy");
    UidListWriter.write(file, List.of());

    String expected =
        "{'descr': [('f0', '<u8'), ('f1', '<u8')], 'fortran_order': False, 'shape': (0,), }";
    byte[] bytes = Files.readAllBytes(file);
    assertThat(bytes).hasSize(128);
    assertThat(bytes).startsWith(0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0);
    assertThat(new String(bytes, 10, 118, java.nio.charset.StandardCharsets.US_ASCII))
        .isEqualTo(expected + " ".repeat(118 - 1 - expected.length()) + "\n");
  }

  @Test
  void writeOfACollectionSortsAndDropsDuplicates() throws IOException {
    List<Uid> shuffled = RandomUids.unsorted(random, 3_000);
    shuffled.addAll(shuffled.subList(0, 200)); // certain duplicates
    Path file = dir.resolve("list.npy");

    long written = UidListWriter.write(file, shuffled);

    List<Uid> expected = new ArrayList<>(new TreeSet<>(shuffled));
    assertThat(written).isEqualTo(expected.size()).isLessThan(shuffled.size());
    try (UidIndex index = UidIndex.open(file)) {
      assertThat(index.stream().toList()).isEqualTo(expected);
      index.verifySorted();
    }
  }

  @Test
  void appendingOutOfOrderFailsAndLeavesNoFile() throws IOException {
    List<Uid> uids = RandomUids.sortedDistinct(random, 100);
    Path file = dir.resolve("list.npy");

    assertThatThrownBy(
            () -> {
              try (UidListWriter writer = UidListWriter.create(file)) {
                for (int i = 0; i < 50; i++) {
                  writer.append(uids.get(i));
                }
                writer.append(uids.get(10));
                writer.finish();
              }
            })
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("index 50")
        .hasMessageContaining(uids.get(10).toString())
        .hasMessageContaining(uids.get(49).toString())
        .hasMessageContaining("sorted");
    assertThat(file).doesNotExist();
    assertThat(AtomicFiles.inProgress(file)).doesNotExist();
  }

  @Test
  void appendingADuplicateFails() throws IOException {
    Uid uid = RandomUids.unsorted(random, 1).get(0);
    try (UidListWriter writer = UidListWriter.create(dir.resolve("list.npy"))) {
      writer.append(uid);
      assertThatThrownBy(() -> writer.append(uid.hi(), uid.lo()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("repeats");
    }
  }

  @Test
  void unsignedOrderIsEnforcedAcrossTheTopBit() throws IOException {
    try (UidListWriter writer = UidListWriter.create(dir.resolve("list.npy"))) {
      writer.append(0x7fff_ffff_ffff_ffffL, -1L);
      writer.append(0x8000_0000_0000_0000L, 0L); // negative as a signed long, yet larger
      writer.append(-1L, 0x7fff_ffff_ffff_ffffL);
      writer.append(-1L, -1L);
      assertThatThrownBy(() -> writer.append(0L, 0L)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void announcedCountIsEnforced() throws IOException {
    List<Uid> uids = RandomUids.sortedDistinct(random, 4);
    Path file = dir.resolve("list.npy");
    try (UidListWriter writer = UidListWriter.create(file, 3)) {
      for (int i = 0; i < 3; i++) {
        writer.append(uids.get(i));
      }
      assertThatThrownBy(() -> writer.append(uids.get(3)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("more uids than the 3 announced");
    }
    try (UidListWriter writer = UidListWriter.create(file, 3)) {
      writer.append(uids.get(0));
      assertThatThrownBy(writer::finish)
          .isInstanceOf(IOException.class)
          .hasMessageContaining("1 uids appended, 3 announced");
    }
    assertThat(file).doesNotExist();
  }

  @Test
  void finishReplacesAnExistingListAtomically() throws IOException {
    Path file = dir.resolve("list.npy");
    UidListWriter.write(file, RandomUids.sortedDistinct(random, 50));
    List<Uid> replacement = RandomUids.sortedDistinct(random, 7);

    try (UidListWriter writer = UidListWriter.create(file)) {
      replacement.forEach(uid -> append(writer, uid));
      // Until finish(), readers still see the old, complete list.
      try (UidIndex index = UidIndex.open(file)) {
        assertThat(index.size()).isEqualTo(50);
      }
      writer.finish();
      assertThatThrownBy(() -> writer.append(new Uid(-1, -1)))
          .isInstanceOf(IllegalStateException.class);
    }
    try (UidIndex index = UidIndex.open(file)) {
      assertThat(index.stream().toList()).isEqualTo(replacement);
    }
  }

  private static void append(UidListWriter writer, Uid uid) {
    try {
      writer.append(uid);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
