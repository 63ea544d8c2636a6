package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeLockTest {
  @TempDir Path dir;

  /** Stands for a `tessera run` in another process: takes the lock, says so, and waits. */
  public static final class Holder {
    public static void main(String[] args) throws Exception {
      VolumeLock lock = VolumeLock.acquire(Path.of(args[0]));
      try {
        System.out.println("locked");
        System.out.flush();
        Thread.sleep(120_000);
      } finally {
        lock.close();
      }
    }
  }

  @Test
  void aSecondRunInTheSameProcessIsRefusedUntilTheFirstEnds() throws Exception {
    Path volume = dir.resolve("volume");
    VolumeLock first = VolumeLock.acquire(volume);
    assertThatThrownBy(() -> VolumeLock.acquire(volume))
        .isInstanceOf(PipelineError.class)
        .hasMessageContaining(volume + " is in use by another `tessera run`")
        .hasMessageContaining("pid " + ProcessHandle.current().pid());
    first.close();
    VolumeLock.acquire(volume).close();
  }

  @Test
  void aRunInAnotherProcessHoldsTheVolumeUntilItIsKilled() throws Exception {
    Path volume = dir.resolve("volume");
    Process holder =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                Holder.class.getName(),
                volume.toString())
            .redirectErrorStream(true)
            .start();
    try {
      BufferedReader output =
          new BufferedReader(
              new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertThat(output.readLine()).isEqualTo("locked");

      assertThatThrownBy(() -> VolumeLock.acquire(volume))
          .isInstanceOf(PipelineError.class)
          .hasMessageContaining("pid " + holder.pid());

      // SIGKILL runs no shutdown hook: the operating system drops the lock with the process.
      holder.destroyForcibly();
      assertThat(holder.waitFor(30, TimeUnit.SECONDS)).isTrue();
      VolumeLock.acquire(volume).close();
    } finally {
      holder.destroyForcibly();
    }
  }

  @Test
  void tesseraRunOnAVolumeInUseStopsBeforeWritingAnything() throws Exception {
    Path volume = dir.resolve("volume");
    Path pipeline = dir.resolve("pipeline.yaml");
    Files.writeString(pipeline, PipelineErrorsTest.PACK);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StringWriter err = new StringWriter();
    VolumeLock held = VolumeLock.acquire(volume);
    try {
      var cli = TesseraMain.commandLine(new PrintStream(out, true, StandardCharsets.UTF_8));
      cli.setErr(new PrintWriter(err, true));
      int code =
          cli.execute(
              "run",
              pipeline.toString(),
              "--volume",
              volume.toString(),
              "--copy",
              "tokenizer.json=" + pipeline);
      assertThat(code).isEqualTo(TesseraMain.PIPELINE_ERROR);
    } finally {
      held.close();
    }
    assertThat(err.toString()).startsWith("error: ").contains("is in use by another `tessera run`");
    assertThat(volume.resolve("tokenizer.json")).doesNotExist();
    assertThat(LocalState.fileOf(volume)).doesNotExist();
  }
}
