package dev.tessera.curator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.packed.PackedLayout;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.data.packed.PackedShardWriter;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class InspectCommandTest {

  @TempDir Path dir;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @BeforeEach
  void writeShards() throws IOException {
    try (ShardWriter writer = new ShardWriter(dir, ShardWriter.Options.samplesPerShard(5))) {
      for (int i = 0; i < 12; i++) {
        String key = String.format("%09d", i);
        writer.write(
            Sample.of(
                key,
                Map.of(
                    "png",
                    new byte[] {(byte) i, 1, 2, 3},
                    "txt",
                    ("caption " + i).getBytes(StandardCharsets.UTF_8))));
      }
      writer.writeManifest(Map.of("command", "test"));
    }
  }

  private int run(String... args) {
    CommandLine command = CuratorMain.commandLine();
    command.setOut(new PrintWriter(out, true));
    command.setErr(new PrintWriter(err, true));
    return command.execute(args);
  }

  /**
   * A packed set whose second sequence holds an image that cannot be decoded (storage damage after
   * packing): the invariants pass, and only --decode-images finds it, naming the sequence.
   */
  @Test
  void decodeImagesNamesThePackedImagesThatCannotBeDecoded() throws IOException {
    Path packed = dir.resolve("packed");
    PackedLayout layout =
        new PackedLayout(32, 4, PackedLayout.IMAGE_TOKEN_ID, 2, 0, "caption", "words", 16);
    java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
    javax.imageio.ImageIO.write(
        new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_INT_RGB),
        "png",
        png);
    byte[][] images = {png.toByteArray(), "not an image".getBytes(StandardCharsets.UTF_8)};
    try (PackedShardWriter writer = new PackedShardWriter(packed, 0)) {
      for (int s = 0; s < images.length; s++) {
        int[] ids = {0, PackedLayout.IMAGE_TOKEN_ID, 3, 4 + s, 1};
        PackedSequence.Part part =
            new PackedSequence.Part(null, "k" + s, ids, false, "png", ByteBuffer.wrap(images[s]));
        writer.write(PackedSequence.build(s, layout, List.of(part)));
      }
      ShardManifest.of(
              ShardManifest.KIND_PACKED,
              layout.toMap(),
              Map.of("command", "test"),
              List.of(writer.finish()))
          .write(packed);
    }
    assertThat(run("inspect", packed.toString())).as(err.toString()).isZero();
    assertThat(out.toString()).contains("problems: none");

    out.getBuffer().setLength(0);
    int exit = run("inspect", packed.toString(), "--decode-images");
    assertThat(exit).isEqualTo(InspectCommand.PROBLEMS_FOUND);
    assertThat(out.toString())
        .contains("problems: 1")
        .contains("sequence 1: image 0 cannot be decoded");

    assertThat(run("inspect", dir.toString(), "--decode-images"))
        .isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(err.toString()).contains("--decode-images is for packed sets");
  }

  @Test
  void cleanShardsReportCountsAndExitZero() {
    int exit = run("inspect", dir.toString());

    assertThat(exit).as(err.toString()).isZero();
    assertThat(out.toString())
        .contains("manifest: 3 shards, 12 samples, checksums match")
        .contains("3 shards, 12 samples")
        .contains("members: {png=12, txt=12}")
        .contains("problems: none");
  }

  @Test
  void damagedShardIsReportedByShardAndKeyWithItsOwnExitCode() throws IOException {
    Path shard = dir.resolve("00001.tar");
    long size = Files.size(shard);
    try (RandomAccessFile file = new RandomAccessFile(shard.toFile(), "rw")) {
      file.setLength(size / 2);
    }

    int exit = run("inspect", dir.toString());

    assertThat(exit).isEqualTo(InspectCommand.PROBLEMS_FOUND);
    assertThat(out.toString())
        .contains("manifest: 1 shards do not match")
        .contains("00001.tar: " + size / 2 + " bytes, manifest says " + size)
        .contains("TRUNCATED_SHARD 00001.tar");
  }

  @Test
  void bracePatternsAndMissingShardsGiveClearErrors() {
    assertThat(run("inspect", dir + "/{00000..00002}.tar")).isZero();
    assertThat(out.toString()).contains("3 shards, 12 samples");

    int exit = run("inspect", dir + "/{00000..00004}.tar");
    assertThat(exit).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(err.toString()).contains("error: no shards").contains("2 of 5 shards do not exist");

    assertThat(run("inspect", "--allow-missing", dir + "/{00000..00004}.tar")).isZero();
    assertThat(run("inspect", dir + "/{0..")).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(err.toString()).contains("unbalanced '{'");
  }
}
