package dev.tessera.curator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.curator.Cli.Outcome;
import dev.tessera.data.manifest.ShardManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SynthCommandTest {
  @TempDir Path tmp;

  private static Outcome run(String... args) {
    return Cli.run(args);
  }

  @Test
  void writesShardsAndManifestAndPrintsASummary() throws IOException {
    Path dir = tmp.resolve("synth");
    Outcome outcome =
        run(
            "synth",
            "--out",
            dir.toString(),
            "--shards",
            "2",
            "--samples-per-shard",
            "5",
            "--seed",
            "3",
            "--defects",
            "0.5",
            "--threads",
            "2");
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(dir.resolve("00000.tar")).isRegularFile();
    assertThat(dir.resolve("00001.tar")).isRegularFile();
    assertThat(dir.resolve("00002.tar")).doesNotExist();
    ShardManifest manifest = ShardManifest.read(dir);
    assertThat(manifest.samples()).isEqualTo(10);
    assertThat(manifest.spec()).containsEntry("command", "synth").containsEntry("defects", 0.5);
    assertThat(outcome.out()).contains("10 samples").contains("2 shards").contains("samples/s");
    assertThat(outcome.out()).contains("defects:");
  }

  @Test
  void sameSeedSameBytesThroughTheCommandLine() throws IOException {
    Path a = tmp.resolve("a");
    Path b = tmp.resolve("b");
    assertThat(
            run(
                    "synth",
                    "--out",
                    a.toString(),
                    "--shards",
                    "1",
                    "--samples-per-shard",
                    "6",
                    "--seed",
                    "9",
                    "--threads",
                    "1")
                .exitCode())
        .isZero();
    assertThat(
            run(
                    "synth",
                    "--out",
                    b.toString(),
                    "--shards",
                    "1",
                    "--samples-per-shard",
                    "6",
                    "--seed",
                    "9",
                    "--threads",
                    "3")
                .exitCode())
        .isZero();
    assertThat(Files.readAllBytes(a.resolve("00000.tar")))
        .isEqualTo(Files.readAllBytes(b.resolve("00000.tar")));
  }

  @Test
  void badArgumentsGiveAClearMessageAndNonZeroExit() throws IOException {
    String out = tmp.resolve("x").toString();
    assertRejected(
        run("synth", "--out", out, "--shards", "0", "--samples-per-shard", "5", "--seed", "1"),
        "shards");
    assertRejected(
        run("synth", "--out", out, "--shards", "1", "--samples-per-shard", "0", "--seed", "1"),
        "samples per shard");
    assertRejected(
        run(
            "synth",
            "--out",
            out,
            "--shards",
            "1",
            "--samples-per-shard",
            "5",
            "--seed",
            "1",
            "--defects",
            "1.5"),
        "defect rate");
    assertRejected(
        run(
            "synth",
            "--out",
            out,
            "--shards",
            "1",
            "--samples-per-shard",
            "5",
            "--seed",
            "1",
            "--threads",
            "0"),
        "threads");
    assertRejected(
        run("synth", "--out", out, "--shards", "two", "--samples-per-shard", "5", "--seed", "1"),
        "--shards");
    assertRejected(
        run("synth", "--shards", "1", "--samples-per-shard", "5", "--seed", "1"), "--out");

    Path foreign = Files.createDirectories(tmp.resolve("foreign"));
    Files.writeString(foreign.resolve("data.csv"), "a,b\n");
    assertRejected(
        run(
            "synth",
            "--out",
            foreign.toString(),
            "--shards",
            "1",
            "--samples-per-shard",
            "5",
            "--seed",
            "1"),
        "not empty");
    assertThat(foreign.resolve("data.csv")).exists();

    Path file = Files.writeString(tmp.resolve("file.txt"), "x");
    assertRejected(
        run(
            "synth",
            "--out",
            file.toString(),
            "--shards",
            "1",
            "--samples-per-shard",
            "5",
            "--seed",
            "1"),
        "not a directory");
    assertThat(tmp.resolve("x")).doesNotExist();
  }

  private static void assertRejected(Outcome outcome, String expected) {
    assertThat(outcome.exitCode()).as(outcome.err()).isNotZero();
    assertThat(outcome.err()).contains(expected);
    assertThat(outcome.err()).doesNotContain("Exception").doesNotContain("\tat ");
  }
}
