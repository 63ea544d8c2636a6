package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.TesseraStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StageLogsTest {
  @TempDir Path dir;

  /** A volume on which {@code PretrainRun/NAME} is in {@code phase}, with {@code lines} logged. */
  private Path volume(String volumeName, String name, Phase phase, String... lines)
      throws IOException {
    Path volume = dir.resolve(volumeName);
    setPhase(volume, name, phase);
    Path log = volume.resolve(".tessera/logs/PretrainRun-" + name + ".log");
    Files.createDirectories(log.getParent());
    Files.write(log, List.of(lines));
    return volume;
  }

  private static void setPhase(Path volume, String name, Phase phase) throws IOException {
    TesseraStatus status = new TesseraStatus();
    status.phase = phase;
    LocalState.open(volume)
        .put("PretrainRun/" + name, JsonNodeFactory.instance.objectNode(), status);
  }

  private record Result(int code, String out, String err) {}

  private static Result logs(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StringWriter err = new StringWriter();
    var cli = TesseraMain.commandLine(new PrintStream(out, true, StandardCharsets.UTF_8));
    cli.setErr(new PrintWriter(err, true));
    String[] all = new String[args.length + 1];
    all[0] = "logs";
    System.arraycopy(args, 0, all, 1, args.length);
    int code = cli.execute(all);
    return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString());
  }

  @Test
  void printsAFinishedStagesWholeLogOrItsLastLines() throws IOException {
    Path volume = volume("v", "run1", Phase.Succeeded, "step 1", "step 2", "step 3", "done");

    Result all = logs("run1", "--volume", volume.toString());
    assertThat(all.code()).isZero();
    assertThat(all.out()).isEqualTo("step 1\nstep 2\nstep 3\ndone\n");

    Result tail = logs("run1", "--volume", volume.toString(), "--tail", "2");
    assertThat(tail.out()).isEqualTo("step 3\ndone\n");
  }

  @Test
  void followPrintsWhatTheWorkerAppendsUntilTheStageStopsRunning() throws Exception {
    Path volume = volume("v", "run1", Phase.Running, "step 1");
    Path log = volume.resolve(".tessera/logs/PretrainRun-run1.log");
    CompletableFuture<Result> following =
        CompletableFuture.supplyAsync(() -> logs("run1", "--volume", volume.toString(), "-f"));
    Thread.sleep(3 * StageLogs.POLL_MILLIS);
    assertThat(following).isNotDone();

    Files.writeString(log, "step 2\n", StandardOpenOption.APPEND);
    Thread.sleep(3 * StageLogs.POLL_MILLIS);
    assertThat(following).as("still running").isNotDone();
    Files.writeString(log, "checkpoint step-2\n", StandardOpenOption.APPEND);
    setPhase(volume, "run1", Phase.Succeeded);

    Result result = following.get(30, TimeUnit.SECONDS);
    assertThat(result.code()).isZero();
    assertThat(result.out()).isEqualTo("step 1\nstep 2\ncheckpoint step-2\n");
  }

  @Test
  void anUnknownNameIsAnErrorThatSaysWhereItLooked() throws IOException {
    Path volume = volume("v", "run1", Phase.Succeeded, "x");
    Result result = logs("nope", "--volume", volume.toString());
    assertThat(result.code()).isEqualTo(TesseraMain.PIPELINE_ERROR);
    assertThat(result.err()).contains("no resource named 'nope' ran on [" + volume + "]");
  }

  @Test
  void aNameOnSeveralVolumesAsksForOne() throws IOException {
    Path first = volume("a", "run1", Phase.Succeeded, "x");
    Path second = volume("b", "run1", Phase.Succeeded, "y");
    assertThatThrownBy(() -> StageLogs.find(List.of(first, second), "run1"))
        .isInstanceOf(PipelineError.class)
        .hasMessageContaining("ran on several volumes")
        .hasMessageContaining("pick one with --volume");
    assertThat(StageLogs.find(List.of(second), "run1").log())
        .isEqualTo(second.resolve(".tessera/logs/PretrainRun-run1.log"));
  }
}
