package dev.tessera.data.synth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Python training code reads these shards with {@code tarfile} and Pillow; this runs a script that
 * does exactly that over a generated directory, with defects, and checks its report.
 */
class PythonInteropTest {
  private static final String SCRIPT = "check_shards.py";
  private static final String INSTALL_HINT =
      "no python3 with Pillow found (tried $TESSERA_PYTHON, /usr/bin/python3, python3 on PATH);"
          + " install it with `apt-get install python3-pil` (or `pip install pillow`)";

  @TempDir Path tmp;

  @Test
  void pythonTarfileAndPillowReadEveryShard() throws Exception {
    Optional<String> python = findPythonWithPillow();
    if (python.isEmpty()) {
      if ("1".equals(System.getenv("TESSERA_REQUIRE_PYTHON"))) {
        fail(INSTALL_HINT + " (TESSERA_REQUIRE_PYTHON=1 makes this a failure)");
      }
      assumeTrue(false, INSTALL_HINT);
    }
    Path data = tmp.resolve("shards");
    SynthResult result =
        SynthGenerator.generate(new SynthOptions(data, 3, 40, 21, 0.5, 2), SynthProgress.NONE);
    Path script = tmp.resolve(SCRIPT);
    try (InputStream in = PythonInteropTest.class.getResourceAsStream(SCRIPT)) {
      assertThat(in).as("test resource " + SCRIPT).isNotNull();
      Files.copy(in, script);
    }

    String output = run(List.of(python.get(), script.toString(), data.toString()));
    JsonNode summary = new ObjectMapper().readTree(output);

    long corrupt = result.defects().getOrDefault(Defect.CORRUPT_IMAGE, 0L);
    assertThat(corrupt).as("the run should include corrupt images").isPositive();
    assertThat(summary.path("shards").asInt()).isEqualTo(3);
    assertThat(summary.path("samples").asInt()).isEqualTo(120);
    assertThat(summary.path("corrupt_samples").asLong()).isEqualTo(corrupt);
    assertThat(summary.path("load_failures").asLong()).isEqualTo(corrupt);
    assertThat(summary.path("images_loaded").asLong()).isEqualTo(120 - corrupt);
    for (String list :
        List.of(
            "unexpected_failures",
            "corrupt_but_loaded",
            "size_mismatches",
            "incomplete_samples",
            "caption_mismatches")) {
      assertThat(summary.path(list).isArray()).as(list).isTrue();
      assertThat(summary.path(list)).as(list).isEmpty();
    }
  }

  private static Optional<String> findPythonWithPillow() {
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
            new ProcessBuilder(candidate, "-c", "import PIL")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0) {
          return Optional.of(candidate);
        }
        process.destroyForcibly();
      } catch (IOException e) {
        // Not installed under this name; try the next.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Optional.empty();
      }
    }
    return Optional.empty();
  }

  private static String run(List<String> command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    byte[] output = process.getInputStream().readAllBytes();
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("python finished").isTrue();
    String text = new String(output, StandardCharsets.UTF_8);
    assertThat(process.exitValue()).as("python exit status; output:%n%s", text).isZero();
    return text;
  }
}
