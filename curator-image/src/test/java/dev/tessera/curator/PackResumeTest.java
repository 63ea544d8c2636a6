package dev.tessera.curator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.curator.pack.Packer;
import dev.tessera.data.testing.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pack run killed with SIGKILL at random moments and continued with {@code --resume} ends with
 * exactly the files of an uninterrupted run.
 */
class PackResumeTest {
  @TempDir Path tmp;

  @Test
  void killedRunsResumeToIdenticalOutput() throws Exception {
    PackCommandTest.synthesise();
    Path expected = tmp.resolve("expected");
    long started = System.nanoTime();
    Cli.Outcome reference = PackCommandTest.pack(expected, "--workers", "1");
    assertThat(reference.exitCode()).as(reference.err()).isZero();
    long referenceMillis = (System.nanoTime() - started) / 1_000_000;

    SplittableRandom rng = new SplittableRandom(20261126);
    int interrupted = 0;
    for (int round = 0; round < 3; round++) {
      Path out = tmp.resolve("killed-" + round);
      // Child start-up (JVM, tokenizer) takes a while: aim the kills across the whole run.
      long delay = 600 + rng.nextLong(Math.max(1, referenceMillis + 1200));
      Process child =
          ChildJvm.start(
              CuratorMain.class,
              List.of("--add-modules", "jdk.incubator.vector"),
              PackCommandTest.packArgs(out, "--workers", "1"));
      boolean exited = child.waitFor(delay, TimeUnit.MILLISECONDS);
      if (!exited) {
        child.destroyForcibly();
        child.waitFor(30, TimeUnit.SECONDS);
        interrupted++;
      }
      if (Files.isDirectory(out.resolve(Packer.WORK_DIR))) {
        Cli.Outcome refused = PackCommandTest.pack(out, "--workers", "1");
        assertThat(refused.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
        assertThat(refused.err()).contains("unfinished pack run").contains("--resume");
      }
      Cli.Outcome resumed = PackCommandTest.pack(out, "--workers", "2", "--resume");
      assertThat(resumed.exitCode()).as(resumed.err()).isZero();
      PackCommandTest.assertSameFiles(out, expected);
    }
    assertThat(interrupted).as("runs actually killed").isPositive();
  }
}
