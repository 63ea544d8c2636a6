package dev.tessera.data.webdataset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.data.manifest.ShardManifest;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardWriterTest {

  @TempDir Path dir;

  static List<Sample> samples(int count) {
    List<Sample> samples = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String key = String.format("%09d", i);
      samples.add(
          Sample.of(
              key,
              Map.of(
                  "jpg", TarBuilder.payload(key, 100 + 37 * i),
                  "txt", ("a caption for " + key).getBytes(StandardCharsets.UTF_8),
                  "json", ("{\"key\":\"" + key + "\"}").getBytes(StandardCharsets.UTF_8))));
    }
    return samples;
  }

  @Test
  void rollsOverAtTheSampleCountAndDescribesShardsInTheManifest() throws IOException {
    List<Sample> written = samples(10);
    ShardManifest manifest;
    try (ShardWriter writer = new ShardWriter(dir, ShardWriter.Options.samplesPerShard(4))) {
      for (Sample sample : written) {
        writer.write(sample);
      }
      manifest = writer.writeManifest(Map.of("command", "test"));
    }

    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).sorted())
          .containsExactly("00000.tar", "00001.tar", "00002.tar", "manifest.json");
    }
    assertThat(manifest.shards())
        .extracting(ShardManifest.Shard::samples)
        .containsExactly(4L, 4L, 2L);
    assertThat(manifest.samples()).isEqualTo(10);
    assertThat(manifest.shardCount()).isEqualTo(3);
    assertThat(manifest.bytes())
        .isEqualTo(sizeOf("00000.tar") + sizeOf("00001.tar") + sizeOf("00002.tar"));
    assertThat(manifest.verify(dir)).isEmpty();

    ShardManifest reread = ShardManifest.read(dir);
    assertThat(reread).isEqualTo(manifest);
    assertThat(reread.spec()).containsEntry("command", "test");

    try (WebDatasetReader reader = WebDatasetReader.open(ShardList.resolve(dir, "."))) {
      List<Sample> read = reader.stream().toList();
      assertThat(read).hasSize(10);
      for (int i = 0; i < 10; i++) {
        assertThat(read.get(i).key()).isEqualTo(written.get(i).key());
        assertThat(read.get(i).shard()).isEqualTo(String.format("%05d.tar", i / 4));
        assertThat(read.get(i).members().keySet())
            .containsExactlyInAnyOrderElementsOf(written.get(i).members().keySet());
        for (String ext : written.get(i).members().keySet()) {
          assertThat(read.get(i).members().get(ext)).isEqualTo(written.get(i).members().get(ext));
        }
      }
      assertThat(reader.report().problemCount()).isZero();
    }
  }

  @Test
  void sameSamplesGiveTheSameBytes() throws IOException {
    for (String run : List.of("a", "b")) {
      try (ShardWriter writer =
          new ShardWriter(dir.resolve(run), ShardWriter.Options.samplesPerShard(3))) {
        for (Sample sample : samples(5)) {
          writer.write(sample);
        }
        writer.writeManifest(Map.of());
      }
    }
    for (String file : List.of("00000.tar", "00001.tar", "manifest.json")) {
      assertThat(Files.readAllBytes(dir.resolve("a").resolve(file)))
          .isEqualTo(Files.readAllBytes(dir.resolve("b").resolve(file)));
    }
  }

  @Test
  void anUnfinishedShardIsNeverVisibleUnderItsFinalName() throws IOException {
    ShardWriter writer = new ShardWriter(dir, ShardWriter.Options.samplesPerShard(4));
    for (Sample sample : samples(6)) {
      writer.write(sample);
    }
    // Killed here: the first shard is complete, the second is still being written.
    assertThat(dir.resolve("00000.tar")).exists();
    assertThat(dir.resolve("00001.tar")).doesNotExist();
    assertThat(dir.resolve("00001.tar.partial")).exists();
    assertThat(ShardList.resolve(dir, ".")).containsExactly(dir.resolve("00000.tar"));
    writer.close();
    assertThat(dir.resolve("00001.tar")).exists();
    assertThat(dir.resolve("00001.tar.partial")).doesNotExist();
  }

  @Test
  void verifyFindsChangedAndMissingShards() throws IOException {
    ShardManifest manifest;
    try (ShardWriter writer = new ShardWriter(dir, ShardWriter.Options.samplesPerShard(2))) {
      for (Sample sample : samples(6)) {
        writer.write(sample);
      }
      manifest = writer.writeManifest(Map.of());
    }
    try (RandomAccessFile file = new RandomAccessFile(dir.resolve("00001.tar").toFile(), "rw")) {
      file.seek(700);
      file.write(file.read() ^ 0xff);
    }
    Files.delete(dir.resolve("00002.tar"));
    assertThat(manifest.verify(dir))
        .hasSize(2)
        .anySatisfy(line -> assertThat(line).startsWith("00001.tar: sha256"))
        .anySatisfy(line -> assertThat(line).isEqualTo("00002.tar: missing"));
  }

  @Test
  void rejectsKeysThatCouldNotBeReadBack() throws IOException {
    try (ShardWriter writer = new ShardWriter(dir, ShardWriter.Options.samplesPerShard(2))) {
      Map<String, byte[]> members = Map.of("txt", new byte[] {65});
      assertThatThrownBy(() -> writer.write(Sample.of("../up", members)))
          .hasMessageContaining("unsafe sample key");
      assertThatThrownBy(() -> writer.write(Sample.of("/abs", members)))
          .hasMessageContaining("unsafe sample key");
      assertThatThrownBy(() -> writer.write(Sample.of("a.b", members)))
          .hasMessageContaining("must not contain a dot");
    }
  }

  @Test
  void manifestOfAnUnknownVersionIsRefused() throws IOException {
    Files.writeString(
        dir.resolve("manifest.json"),
        "{\"formatVersion\": 99, \"kind\": \"webdataset\", \"shardCount\": 0, \"samples\": 0,"
            + " \"bytes\": 0, \"shards\": []}");
    assertThatThrownBy(() -> ShardManifest.read(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("format version 99");
    Files.writeString(dir.resolve("manifest.json"), "{not json");
    assertThatThrownBy(() -> ShardManifest.read(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("invalid shard manifest");
  }

  private long sizeOf(String name) throws IOException {
    return Files.size(dir.resolve(name));
  }
}
