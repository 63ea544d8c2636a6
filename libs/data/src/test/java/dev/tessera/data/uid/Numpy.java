package dev.tessera.data.uid;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs Python scripts with numpy, to compare against the real {@code np.save} and {@code np.load}.
 * Without a Python that can import numpy the calling test fails when {@code
 * TESSERA_REQUIRE_PYTHON=1} (as in CI) and is skipped otherwise.
 */
final class Numpy {
  private static final List<String> CANDIDATES = List.of("/usr/bin/python3", "python3");
  private static String python;

  private Numpy() {}

  /** Runs {@code script} with {@code args}, failing unless it exits 0; returns its stdout. */
  static String run(String script, Path... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(python(), "-c", script));
    for (Path arg : args) {
      command.add(arg.toString());
    }
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    byte[] output = process.getInputStream().readAllBytes();
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("python finished").isTrue();
    String text = new String(output, StandardCharsets.UTF_8);
    assertThat(process.exitValue()).as("python exit status; output:%n%s", text).isZero();
    return text;
  }

  private static synchronized String python() throws InterruptedException {
    if (python == null) {
      for (String candidate : CANDIDATES) {
        if (canImportNumpy(candidate)) {
          python = candidate;
          break;
        }
      }
    }
    if (python == null) {
      String message =
          "no python3 with numpy found (tried "
              + CANDIDATES
              + "); install it with: apt-get install python3-numpy";
      if ("1".equals(System.getenv("TESSERA_REQUIRE_PYTHON"))) {
        throw new AssertionError(message + " (TESSERA_REQUIRE_PYTHON=1 makes this a failure)");
      }
      Assumptions.abort(message);
    }
    return python;
  }

  private static boolean canImportNumpy(String candidate) throws InterruptedException {
    try {
      Process process =
          new ProcessBuilder(candidate, "-c", "import numpy")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      return process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0;
    } catch (IOException e) {
      return false; // not installed
    }
  }
}
