package dev.tessera.data.progress;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileProgressReporterTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  private JsonNode read() throws IOException {
    return JSON.readTree(dir.resolve("progress.json").toFile());
  }

  @Test
  void throttlesProgressButWritesPhasesAndCheckpointsAtOnce() throws IOException {
    ManualClock clock = new ManualClock();
    FileProgressReporter reporter =
        new FileProgressReporter(
            dir.resolve("progress.json"), "PretrainRun", clock, Duration.ofSeconds(2));
    reporter.progress(Map.of("step", 1));
    assertThat(read().path("progress").path("step").asInt()).isEqualTo(1);
    assertThat(read().path("version").asLong()).isEqualTo(1);

    clock.millis += 500;
    reporter.progress(Map.of("step", 2));
    assertThat(read().path("progress").path("step").asInt()).as("throttled").isEqualTo(1);

    reporter.checkpoint(Map.of("step", 2, "path", "checkpoints/step-00000002"));
    JsonNode afterCheckpoint = read();
    assertThat(afterCheckpoint.path("progress").path("step").asInt()).isEqualTo(2);
    assertThat(afterCheckpoint.path("latestCheckpoint").path("step").asInt()).isEqualTo(2);
    assertThat(afterCheckpoint.path("version").asLong()).isEqualTo(2);

    for (int step = 3; step <= 9; step++) {
      reporter.checkpoint(Map.of("step", step));
    }
    assertThat(read().path("checkpoints")).hasSize(JsonProgressReporter.CHECKPOINTS_KEPT);
    assertThat(read().path("checkpoints").get(0).path("step").asInt()).isEqualTo(5);

    clock.millis += 100;
    reporter.progress(Map.of("step", 10));
    reporter.close();
    assertThat(read().path("progress").path("step").asInt()).as("flushed on close").isEqualTo(10);

    reporter.phase("Failed", "out of memory");
    assertThat(read().path("phase").asText()).isEqualTo("Failed");
    assertThat(read().path("message").asText()).isEqualTo("out of memory");
    assertThat(read().path("kind").asText()).isEqualTo("PretrainRun");
  }
}
