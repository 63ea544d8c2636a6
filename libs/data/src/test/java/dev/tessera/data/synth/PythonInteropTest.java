package dev.tessera.data.synth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.testing.Python;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Python training code reads these shards with {@code tarfile} and Pillow; this runs a script that
 * does exactly that over a generated directory, with defects, and checks its report.
 */
class PythonInteropTest {
  private static final String SCRIPT = "check_shards.py";

  @TempDir Path tmp;

  @Test
  void pythonTarfileAndPillowReadEveryShard() throws Exception {
    String python = Python.with("PIL", "python3-pil");
    Path data = tmp.resolve("shards");
    SynthResult result =
        SynthGenerator.generate(new SynthOptions(data, 3, 40, 21, 0.5, 2), SynthProgress.NONE);
    Path script = tmp.resolve(SCRIPT);
    try (InputStream in = PythonInteropTest.class.getResourceAsStream(SCRIPT)) {
      assertThat(in).as("test resource " + SCRIPT).isNotNull();
      Files.copy(in, script);
    }

    String output = Python.run(List.of(python, script.toString(), data.toString()));
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
}
