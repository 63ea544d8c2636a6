package dev.tessera.curator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.data.io.Sha256;
import dev.tessera.engine.DType;
import dev.tessera.model.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** inspect of a training checkpoint directory (as tessera-trainer writes them). */
class CheckpointInspectionTest {
  @TempDir Path dir;

  @Test
  void reportsStepWeightsAndChecksums() throws IOException {
    Path step = Files.createDirectories(dir.resolve("step-00000020"));
    new SafetensorsWriter()
        .add("projector.0.weight", DType.F32, new int[] {3, 2}, new float[6])
        .write(step.resolve("model.safetensors"));
    Files.writeString(
        step.resolve("trainer-state.json"), "{\"step\":20,\"dataPosition\":80,\"badSteps\":0}");
    StringBuilder files = new StringBuilder();
    for (String name : new String[] {"model.safetensors", "trainer-state.json"}) {
      Path file = step.resolve(name);
      files
          .append(files.length() == 0 ? "" : ",")
          .append(
              String.format(
                  "{\"name\":\"%s\",\"bytes\":%d,\"sha256\":\"%s\"}",
                  name, Files.size(file), Sha256.ofFile(file)));
    }
    Files.writeString(
        step.resolve("manifest.json"),
        "{\"formatVersion\":1,\"step\":20,\"files\":[" + files + "]}");

    Cli.Outcome outcome = Cli.run("inspect", step.toString());
    assertThat(outcome.exitCode()).as(outcome.out() + outcome.err()).isZero();
    assertThat(outcome.out())
        .contains("training checkpoint: step 20, data position 80")
        .contains("2 files, checksums match")
        .contains("6 parameters");

    Files.writeString(
        step.resolve("trainer-state.json"), "{\"step\":21,\"dataPosition\":80,\"badSteps\":0}");
    Cli.Outcome damaged = Cli.run("inspect", step.toString());
    assertThat(damaged.exitCode()).isEqualTo(InspectCommand.PROBLEMS_FOUND);
    assertThat(damaged.out()).contains("trainer-state.json: does not match its checksum");
  }
}
