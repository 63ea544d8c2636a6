package dev.tessera.curator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
