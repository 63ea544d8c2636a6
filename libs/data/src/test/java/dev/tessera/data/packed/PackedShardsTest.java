package dev.tessera.data.packed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.data.io.Npy;
import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.testing.Python;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.WebDatasetReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PackedShardsTest {
  private static final int BOS = 128245;
  private static final int EOS = 151645;
  private static final int PAD = 151643;
  private static final PackedLayout LAYOUT =
      new PackedLayout(64, 8, PackedLayout.IMAGE_TOKEN_ID, PAD, 0, "caption", "abc", 151666);

  @TempDir Path dir;

  /** A random caption sample: {@code <s> IMAGE ... <|im_end|>} with {@code text} text tokens. */
  private static PackedSequence.Part part(SplittableRandom rng, int number, int text) {
    int[] ids = new int[text + 1];
    ids[0] = BOS;
    ids[1] = PackedLayout.IMAGE_TOKEN_ID;
    for (int i = 2; i < ids.length - 1; i++) {
      ids[i] = rng.nextInt(150_000);
    }
    ids[ids.length - 1] = EOS;
    byte[] image = new byte[1 + rng.nextInt(300)];
    rng.nextBytes(image);
    String uid = number % 3 == 0 ? null : String.format("%032x", number);
    return new PackedSequence.Part(
        uid, "00000.tar/" + number, ids, number % 5 == 0, "jpg", ByteBuffer.wrap(image));
  }

  /** Sequences of random parts, first-fit in order. */
  private static List<PackedSequence> randomSequences(long seed, int count) {
    SplittableRandom rng = new SplittableRandom(seed);
    List<PackedSequence> sequences = new ArrayList<>();
    int number = 0;
    for (int s = 0; s < count; s++) {
      List<PackedSequence.Part> parts = new ArrayList<>();
      int used = 0;
      while (true) {
        PackedSequence.Part next = part(rng, number, 3 + rng.nextInt(20));
        int length = next.multimodalLength(LAYOUT.imageTokens());
        if (used + length > LAYOUT.sequenceLength()) {
          break;
        }
        parts.add(next);
        number++;
        used += length;
      }
      sequences.add(PackedSequence.build(s, LAYOUT, parts));
    }
    return sequences;
  }

  private Path writeSet(List<PackedSequence> sequences, int perShard) throws IOException {
    List<ShardManifest.Shard> shards = new ArrayList<>();
    for (int first = 0, shard = 0; first < sequences.size(); first += perShard, shard++) {
      try (PackedShardWriter writer = new PackedShardWriter(dir, shard)) {
        for (PackedSequence sequence :
            sequences.subList(first, Math.min(sequences.size(), first + perShard))) {
          writer.write(sequence);
        }
        shards.add(writer.finish());
      }
    }
    ShardManifest.of(ShardManifest.KIND_PACKED, LAYOUT.toMap(), Map.of("command", "test"), shards)
        .write(dir);
    return dir;
  }

  @Test
  void buildLaysSamplesEndToEndWithVisualBlocksPositionsAndLossMask() {
    SplittableRandom rng = new SplittableRandom(1);
    PackedSequence.Part a = part(rng, 1, 5);
    PackedSequence.Part b = part(rng, 2, 4);
    PackedSequence sequence = PackedSequence.build(7, LAYOUT, List.of(a, b));

    assertThat(sequence.length()).isEqualTo(5 + 8 + 4 + 8);
    assertThat(sequence.samples())
        .extracting(PackedSample::offset, PackedSample::length, PackedSample::textTokens)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(0, 13, 5),
            org.assertj.core.groups.Tuple.tuple(13, 12, 4));
    int[] tokens = sequence.tokens();
    assertThat(tokens[0]).isEqualTo(BOS);
    for (int i = 1; i <= 8; i++) {
      assertThat(tokens[i]).isEqualTo(PackedLayout.IMAGE_TOKEN_ID);
      assertThat(sequence.lossMask()[i]).isZero();
    }
    assertThat(tokens[9]).isEqualTo(a.ids()[2]);
    assertThat(tokens[12]).isEqualTo(EOS);
    assertThat(tokens[13]).isEqualTo(BOS);
    assertThat(sequence.positions()[12]).isEqualTo(12);
    assertThat(sequence.positions()[13]).isZero();
    assertThat(sequence.positions()[24]).isEqualTo(11);
    assertThat(sequence.lossMask()[13]).isEqualTo((byte) 1);
    for (int i = 25; i < 64; i++) {
      assertThat(tokens[i]).isEqualTo(PAD);
      assertThat(sequence.lossMask()[i]).isZero();
      assertThat(sequence.positions()[i]).isZero();
    }
    assertThat(sequence.problems(LAYOUT)).isEmpty();
  }

  @Test
  void buildRefusesPartsWithoutOneImageOrThatOverflow() {
    SplittableRandom rng = new SplittableRandom(2);
    PackedSequence.Part noImage =
        new PackedSequence.Part(
            null, "k", new int[] {BOS, 5, EOS}, false, "jpg", ByteBuffer.allocate(1));
    assertThatThrownBy(() -> PackedSequence.build(0, LAYOUT, List.of(noImage)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0 image sentinels");
    List<PackedSequence.Part> tooMany = List.of(part(rng, 1, 30), part(rng, 2, 30));
    assertThatThrownBy(() -> PackedSequence.build(0, LAYOUT, tooMany))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("sequence length 64");
  }

  @Test
  void problemsFindsWrongMasksPositionsAndPadding() {
    PackedSequence good = randomSequences(3, 1).get(0);
    good.lossMask()[2] = 1;
    assertThat(good.problems(LAYOUT)).singleElement().asString().contains("loss mask");
    PackedSequence other = randomSequences(3, 1).get(0);
    other.positions()[other.samples().get(1).offset()] = 5;
    assertThat(other.problems(LAYOUT)).singleElement().asString().contains("position");
    PackedSequence padded = randomSequences(3, 1).get(0);
    padded.tokens()[63] = 0;
    assertThat(padded.problems(LAYOUT)).singleElement().asString().contains("padding");
  }

  @Test
  void writesAndReadsBackEverySequenceByRandomAccess() throws IOException {
    List<PackedSequence> written = randomSequences(4, 23);
    writeSet(written, 10);

    try (PackedShards packed = PackedShards.open(dir)) {
      assertThat(packed.shardCount()).isEqualTo(3);
      assertThat(packed.sequenceCount()).isEqualTo(23);
      assertThat(packed.layout()).isEqualTo(LAYOUT);
      assertThat(packed.verify()).isEmpty();
      assertThat(PackedShards.isPacked(dir)).isTrue();
      SplittableRandom rng = new SplittableRandom(5);
      for (int round = 0; round < 60; round++) {
        int s = rng.nextInt(23);
        PackedSequence read = packed.read(s);
        PackedSequence expected = written.get(s);
        assertThat(read.index()).isEqualTo(s);
        assertThat(read.length()).isEqualTo(expected.length());
        assertThat(read.tokens()).isEqualTo(expected.tokens());
        assertThat(read.positions()).isEqualTo(expected.positions());
        assertThat(read.lossMask()).isEqualTo(expected.lossMask());
        assertThat(read.samples()).isEqualTo(expected.samples());
        assertThat(read.images()).isEqualTo(expected.images());
        assertThat(read.problems(LAYOUT)).isEmpty();
      }
    }
  }

  @Test
  void packedShardsAreOrdinaryWebDatasetShards() throws IOException {
    writeSet(randomSequences(6, 12), 5);
    List<String> keys = new ArrayList<>();
    try (WebDatasetReader reader =
        WebDatasetReader.open(
            List.of(dir.resolve("00000.tar"), dir.resolve("00001.tar"), dir.resolve("00002.tar")),
            dev.tessera.data.webdataset.ReadOptions.anySample())) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        keys.add(sample.key());
        assertThat(PackedSequence.fromSample(sample).problems(LAYOUT)).isEmpty();
      }
      assertThat(reader.report().problemCount()).isZero();
    }
    assertThat(keys).hasSize(12).first().isEqualTo("000000000");
  }

  @Test
  void sameSequencesGiveTheSameBytes() throws IOException {
    writeSet(randomSequences(7, 8), 4);
    byte[] first = Files.readAllBytes(dir.resolve("00001.tar"));
    byte[] manifest = Files.readAllBytes(dir.resolve("manifest.json"));
    writeSet(randomSequences(7, 8), 4);
    assertThat(Files.readAllBytes(dir.resolve("00001.tar"))).isEqualTo(first);
    assertThat(Files.readAllBytes(dir.resolve("manifest.json"))).isEqualTo(manifest);
  }

  @Test
  void damagedIndexOrShardIsReportedNotMisread() throws IOException {
    writeSet(randomSequences(8, 6), 6);
    Path index = dir.resolve("00000.idx.npy");
    long[] offsets = Npy.readInt64(ByteBuffer.wrap(Files.readAllBytes(index)));

    // An index whose entry 2 points into the middle of sequence 2: sequence 1's span then runs
    // into sequence 2's members, and sequence 2's span starts inside a member. Both refused.
    long[] shifted = offsets.clone();
    shifted[2] = offsets[2] + 1024;
    Files.write(index, Npy.int64(shifted));
    try (PackedShards packed = PackedShards.open(dir)) {
      assertThat(packed.read(0).index()).isZero();
      assertThatThrownBy(() -> packed.read(1))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("runs into 000000002");
      assertThatThrownBy(() -> packed.read(2)).isInstanceOf(IOException.class);
      assertThat(packed.verify()).anyMatch(line -> line.startsWith("00000.idx.npy"));
    }

    long[] reversed = offsets.clone();
    reversed[1] = offsets[3];
    Files.write(index, Npy.int64(reversed));
    assertThatThrownBy(() -> PackedShards.open(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("not increasing");

    Files.delete(index);
    assertThatThrownBy(() -> PackedShards.open(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("00000.idx.npy");
  }

  @Test
  void aReaderInterruptedMidReadDoesNotBreakTheOthers() throws Exception {
    writeSet(randomSequences(11, 6), 6);
    try (PackedShards packed = PackedShards.open(dir)) {
      assertThat(packed.read(0).index()).isZero();
      java.util.concurrent.atomic.AtomicReference<Throwable> failure =
          new java.util.concurrent.atomic.AtomicReference<>();
      Thread interrupted =
          new Thread(
              () -> {
                Thread.currentThread().interrupt();
                try {
                  packed.read(1);
                } catch (Throwable e) {
                  failure.set(e);
                }
              });
      interrupted.start();
      interrupted.join();
      assertThat(failure.get()).isInstanceOf(IOException.class);
      // The interrupted read closed the shared channel; the next read reopens it.
      assertThat(packed.read(2).index()).isEqualTo(2);
    }
  }

  @Test
  void aWebDatasetDirectoryIsNotAPackedSet() throws IOException {
    ShardManifest.of(ShardManifest.KIND_WEBDATASET, Map.of(), List.of()).write(dir);
    assertThat(PackedShards.isPacked(dir)).isFalse();
    assertThatThrownBy(() -> PackedShards.open(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("not tessera-packed");
  }

  @Test
  void pythonStandardLibraryReaderSeesTheSameSequences() throws Exception {
    List<PackedSequence> written = randomSequences(9, 14);
    writeSet(written, 5);
    String python = Python.with("tarfile", "python3");
    Path script = Path.of("../../scripts/packed_reader.py").toAbsolutePath().normalize();
    assertThat(script).exists();

    String output = Python.run(List.of(python, script.toString(), dir.toString(), "--check"));

    List<String> expected = new ArrayList<>();
    for (PackedSequence sequence : written) {
      expected.add(sequence.summaryLine(String.format("%05d.tar", sequence.index() / 5)));
    }
    assertThat(output.strip().lines()).containsExactlyElementsOf(expected);
    String full =
        Python.run(List.of(python, script.toString(), dir.toString(), "--sequence", "11"));
    assertThat(full).contains("\"sequence\": 11").contains("\"loss_mask\": [1, 0, 0");
  }

  @Test
  void pythonReaderReportsADamagedShard() throws Exception {
    writeSet(randomSequences(10, 4), 4);
    Path shard = dir.resolve("00000.tar");
    byte[] bytes = Files.readAllBytes(shard);
    bytes[bytes.length / 2] ^= 0x40;
    Files.write(shard, bytes);
    String python = Python.with("tarfile", "python3");
    Path script = Path.of("../../scripts/packed_reader.py").toAbsolutePath().normalize();
    Process process =
        new ProcessBuilder(python, script.toString(), dir.toString(), "--check")
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    process.waitFor();
    assertThat(process.exitValue()).isNotZero();
    assertThat(output).contains("00000.tar");
  }
}
