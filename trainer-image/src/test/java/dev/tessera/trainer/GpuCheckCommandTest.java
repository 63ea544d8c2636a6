package dev.tessera.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.config.Qwen2Config;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class GpuCheckCommandTest {
  @Test
  void theTimedTrainingStepsRunOnAnyBackendAndReportThroughputAndMfu() {
    GpuCheckCommand command = new GpuCheckCommand();
    command.tokens = 96;
    command.steps = 2;
    command.learningRate = 1e-2;
    Qwen2Config tiny = new Qwen2Config(32, 64, 2, 4, 2, 300, 1e-6, 10_000, true, 512, "float32");
    StringWriter log = new StringWriter();
    List<String> summary =
        command.trainingSteps(CpuBackend.get(), tiny, 1.0, new PrintWriter(log, true));
    assertThat(log.toString()).contains("step 0 (warm-up)").contains("step 2:");
    assertThat(summary.get(0)).contains("2 layers, 96 tokens").contains("MFU");
    // The loss of random weights is about ln(vocab) and must fall as AdamW steps.
    double first = loss(log.toString(), "step 0");
    double last = loss(log.toString(), "step 2");
    assertThat(first).isBetween(Math.log(300) - 1, Math.log(300) + 1);
    assertThat(last).isLessThan(first);
  }

  private static double loss(String log, String step) {
    for (String line : log.split("\n")) {
      if (line.startsWith(step)) {
        String tail = line.substring(line.indexOf("loss ") + 5);
        return Double.parseDouble(tail.substring(0, tail.indexOf(',')));
      }
    }
    throw new AssertionError("no line for " + step + " in\n" + log);
  }

  @Test
  void withoutAGpuTheCommandSaysWhatIsMissingAndExitsWithItsOwnCode() {
    StringWriter err = new StringWriter();
    CommandLine cli = new CommandLine(new TrainerMain());
    cli.setErr(new PrintWriter(err, true));
    cli.setOut(new PrintWriter(new StringWriter(), true));
    int code = cli.execute("gpu-check", "--skip-training");
    assertThat(code).isEqualTo(TrainerMain.NO_DEVICE);
    assertThat(err.toString()).startsWith("gpu-check: ").contains("CUDA");
  }
}
