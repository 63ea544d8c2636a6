package dev.tessera.data.packed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.data.manifest.ShardManifest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PackedLoaderTest {
  private static final PackedLayout LAYOUT =
      new PackedLayout(32, 4, PackedLayout.IMAGE_TOKEN_ID, 0, 0, "caption", "t", 10);
  private static final int SEQUENCES = 23;

  @TempDir Path dir;

  /** 23 one-sample sequences in 3 shards; each image's bytes hold its sequence number. */
  @BeforeEach
  void writeSet() throws IOException {
    List<ShardManifest.Shard> shards = new ArrayList<>();
    for (int shard = 0, s = 0; s < SEQUENCES; shard++) {
      try (PackedShardWriter writer = new PackedShardWriter(dir, shard)) {
        for (int k = 0; k < 10 && s < SEQUENCES; k++, s++) {
          int[] ids = {1, PackedLayout.IMAGE_TOKEN_ID, 2, 3};
          PackedSequence.Part part =
              new PackedSequence.Part(
                  null, "src/" + s, ids, false, "jpg", ByteBuffer.allocate(4).putInt(0, s));
          writer.write(PackedSequence.build(s, LAYOUT, List.of(part)));
        }
        shards.add(writer.finish());
      }
    }
    ShardManifest.of(ShardManifest.KIND_PACKED, LAYOUT.toMap(), Map.of(), shards).write(dir);
  }

  /** The sequence numbers one rank gets, as decoded from the images, and their positions. */
  private static List<long[]> take(
      PackedShards shards, PackedLoader.Options options, long start, int count) throws IOException {
    List<long[]> out = new ArrayList<>();
    try (PackedLoader<Integer> loader =
        PackedLoader.open(shards, options, bytes -> bytes.getInt(0), start)) {
      for (int i = 0; i < count; i++) {
        long expectedPosition = loader.nextPosition();
        PackedLoader.Item<Integer> item = loader.next();
        assertThat(item.position()).isEqualTo(expectedPosition);
        assertThat(item.images()).containsExactly((int) item.sequence().index());
        out.add(new long[] {item.position(), item.sequence().index()});
      }
    }
    return out;
  }

  private static List<Long> sequences(List<long[]> items) {
    return items.stream().map(item -> item[1]).toList();
  }

  @Test
  void everyEpochIsAShuffleOfAllSequencesDeterminedByTheSeed() throws IOException {
    try (PackedShards shards = PackedShards.open(dir)) {
      List<Long> first = sequences(take(shards, PackedLoader.Options.singleRank(7), 0, 3 * 23));
      assertThat(first)
          .isEqualTo(sequences(take(shards, PackedLoader.Options.singleRank(7), 0, 69)));
      for (int epoch = 0; epoch < 3; epoch++) {
        assertThat(new HashSet<>(first.subList(23 * epoch, 23 * epoch + 23))).hasSize(23);
      }
      assertThat(first.subList(0, 23)).isNotEqualTo(first.subList(23, 46));
      assertThat(sequences(take(shards, PackedLoader.Options.singleRank(8), 0, 23)))
          .isNotEqualTo(first.subList(0, 23));
    }
  }

  @Test
  void heldOutSequencesAreDrawnOnceForTheSetAndNeverStreamed() throws IOException {
    HeldOut split = HeldOut.split(SEQUENCES, 5);
    assertThat(split.evaluation()).hasSize(5).isSorted();
    assertThat(split.training()).hasSize(18).isSorted();
    Set<Integer> all = new HashSet<>();
    for (int s : split.evaluation()) {
      all.add(s);
    }
    for (int s : split.training()) {
      assertThat(all.add(s)).as("sequence %d in both", s).isTrue();
    }
    assertThat(all).hasSize(SEQUENCES);
    assertThat(HeldOut.split(SEQUENCES, 5).evaluation()).isEqualTo(split.evaluation());
    assertThat(split.evaluation())
        .as("spread, not the set's end")
        .isNotEqualTo(new int[] {18, 19, 20, 21, 22});
    assertThat(HeldOut.split(SEQUENCES, 0).training()).hasSize(SEQUENCES);

    try (PackedShards shards = PackedShards.open(dir);
        PackedLoader<Integer> loader =
            PackedLoader.open(
                shards,
                PackedLoader.Options.singleRank(7),
                bytes -> bytes.getInt(0),
                0,
                split.training())) {
      for (int epoch = 0; epoch < 3; epoch++) {
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < 18; i++) {
          PackedLoader.Item<Integer> item = loader.next();
          assertThat(item.epoch()).isEqualTo(epoch);
          seen.add(item.sequence().index());
        }
        assertThat(seen).as("epoch %d: every training sequence once", epoch).hasSize(18);
        for (int held : split.evaluation()) {
          assertThat(seen).doesNotContain((long) held);
        }
      }
    }
  }

  @Test
  void aSplitThatLeavesNothingToTrainOnIsRefused() throws IOException {
    assertThatThrownBy(() -> HeldOut.split(SEQUENCES, SEQUENCES))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot hold out 23 of 23 sequences");
    assertThatThrownBy(() -> HeldOut.split(SEQUENCES, -1))
        .isInstanceOf(IllegalArgumentException.class);
    try (PackedShards shards = PackedShards.open(dir)) {
      assertThatThrownBy(
              () ->
                  PackedLoader.open(
                      shards, PackedLoader.Options.singleRank(1), b -> 0, 0, new int[] {3, 23}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("sequence 23 is not in packed set");
    }
  }

  @Test
  void ranksSplitTheGlobalStreamWhateverTheirNumberAndThreads() throws IOException {
    try (PackedShards shards = PackedShards.open(dir)) {
      List<Long> single = sequences(take(shards, new PackedLoader.Options(3, 0, 1, 1, 1), 0, 60));
      for (int ranks : new int[] {2, 3, 4}) {
        long[] byPosition = new long[60];
        for (int rank = 0; rank < ranks; rank++) {
          int threads = 1 + rank % 3;
          for (long[] item :
              take(shards, new PackedLoader.Options(3, rank, ranks, 5, threads), 0, 60 / ranks)) {
            assertThat(item[0] % ranks).isEqualTo(rank);
            byPosition[(int) item[0]] = item[1];
          }
        }
        List<Long> merged = new ArrayList<>();
        for (long sequence : byPosition) {
          merged.add(sequence);
        }
        assertThat(merged).as("%d ranks", ranks).isEqualTo(single);
      }
    }
  }

  @Test
  void resumesAtTheExactPosition() throws IOException {
    try (PackedShards shards = PackedShards.open(dir)) {
      List<long[]> whole = take(shards, PackedLoader.Options.singleRank(5), 0, 50);
      SplittableRandom random = new SplittableRandom(1);
      for (int round = 0; round < 5; round++) {
        int start = random.nextInt(40);
        List<long[]> resumed = take(shards, PackedLoader.Options.singleRank(5), start, 10);
        assertThat(sequences(resumed)).isEqualTo(sequences(whole.subList(start, start + 10)));
      }
      // A rank resuming from a global position starts at its first own position at or after it.
      List<long[]> rank1 = take(shards, new PackedLoader.Options(5, 1, 3, 4, 2), 10, 5);
      assertThat(rank1.get(0)[0]).isEqualTo(10);
      assertThat(sequences(rank1))
          .containsExactly(
              whole.get(10)[1],
              whole.get(13)[1],
              whole.get(16)[1],
              whole.get(19)[1],
              whole.get(22)[1]);
    }
  }

  @Test
  void aDamagedSequenceIsReportedByShardAndSequence() throws IOException {
    Path shard = dir.resolve("00001.tar");
    byte[] bytes = Files.readAllBytes(shard);
    for (int i = 0; i < 2048; i++) {
      bytes[i] = 0;
    }
    Files.write(shard, bytes);
    try (PackedShards shards = PackedShards.open(dir);
        PackedLoader<Integer> loader =
            PackedLoader.open(
                shards, PackedLoader.Options.singleRank(1), bytes2 -> bytes2.getInt(0), 0)) {
      // Every sequence of the epoch is delivered or reported, the damaged ones by index and
      // shard, and the loader goes on past each.
      List<Long> delivered = new ArrayList<>();
      List<DamagedSequenceException> damaged = new ArrayList<>();
      for (int i = 0; i < SEQUENCES; i++) {
        try {
          delivered.add(loader.next().sequence().index());
        } catch (DamagedSequenceException e) {
          damaged.add(e);
        }
      }
      assertThat(damaged).isNotEmpty();
      assertThat(damaged.get(0)).hasMessageContaining("00001.tar");
      List<Long> all = new ArrayList<>(delivered);
      damaged.forEach(e -> all.add(e.sequence()));
      assertThat(all).doesNotHaveDuplicates().hasSize(SEQUENCES);
      assertThat(loader.nextPosition()).isEqualTo(SEQUENCES);
    }
  }

  @Test
  void refusesBadOptions() throws IOException {
    assertThatThrownBy(() -> new PackedLoader.Options(1, 2, 2, 1, 1))
        .hasMessageContaining("rank 2 of 2");
    assertThatThrownBy(() -> new PackedLoader.Options(1, 0, 1, 0, 1))
        .hasMessageContaining("prefetch");
    try (PackedShards shards = PackedShards.open(dir)) {
      assertThatThrownBy(
              () -> PackedLoader.open(shards, PackedLoader.Options.singleRank(1), b -> b, -1))
          .hasMessageContaining("start position");
    }
  }

  @Test
  void permutationsAreShufflesOfEveryIndex() {
    Set<Integer> seen = new HashSet<>();
    for (int value : PackedLoader.permutation(1, 0, 1000)) {
      seen.add(value);
    }
    assertThat(seen).hasSize(1000);
    assertThat(PackedLoader.permutation(1, 0, 1000))
        .isEqualTo(PackedLoader.permutation(1, 0, 1000))
        .isNotEqualTo(PackedLoader.permutation(1, 1, 1000))
        .isNotEqualTo(PackedLoader.permutation(2, 0, 1000));
  }
}
