package dev.tessera.model.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs Python for interop tests: checks that numpy-based readers and writers agree with Tessera on
 * safetensors bytes. Without a Python that has the module, the calling test is aborted with an
 * install hint — or fails, when {@code TESSERA_REQUIRE_PYTHON=1} (CI sets it).
 */
public final class Python {
  private static final Map<String, String> INTERPRETER_BY_MODULE = new ConcurrentHashMap<>();

  private Python() {}

  /**
   * A python3 that can import {@code module}: {@code $TESSERA_PYTHON}, {@code /usr/bin/python3} or
   * {@code python3} on the path.
   */
  public static String with(String module, String debianPackage) {
    String found = INTERPRETER_BY_MODULE.computeIfAbsent(module, Python::find);
    if (found.isEmpty()) {
      String message =
          "no python3 that can import "
              + module
              + " (tried $TESSERA_PYTHON, /usr/bin/python3, python3); install it with: apt-get"
              + " install "
              + debianPackage;
      if ("1".equals(System.getenv("TESSERA_REQUIRE_PYTHON"))) {
        throw new AssertionError(message + " (TESSERA_REQUIRE_PYTHON=1 makes this a failure)");
      }
      Assumptions.abort(message);
    }
    return found;
  }

  /** Runs {@code command}, asserts it exits 0 within a minute, and returns its output. */
  public static String run(List<String> command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    byte[] output = process.getInputStream().readAllBytes();
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("python finished").isTrue();
    String text = new String(output, StandardCharsets.UTF_8);
    assertThat(process.exitValue()).as("python exit status; output:%n%s", text).isZero();
    return text;
  }

  private static String find(String module) {
    List<String> candidates = new ArrayList<>();
    String configured = System.getenv("TESSERA_PYTHON");
    if (configured != null && !configured.isBlank()) {
      candidates.add(configured);
    }
    candidates.add("/usr/bin/python3");
    candidates.add("python3");
    for (String candidate : candidates) {
      try {
        Process process =
            new ProcessBuilder(candidate, "-c", "import " + module)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0) {
          return candidate;
        }
        process.destroyForcibly();
      } catch (IOException e) {
        // Not installed under this name; try the next.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return "";
      }
    }
    return "";
  }
}
