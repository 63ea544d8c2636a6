package dev.tessera.curator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.io.Sha256;
import dev.tessera.model.io.SafetensorsDirectory;
import dev.tessera.model.io.TensorInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code inspect} of a model directory in Hugging Face layout ({@code config.json} plus {@code
 * model.safetensors} or a sharded index) or of a training checkpoint ({@code
 * RUN/checkpoints/step-N/}: weights, optimizer state, trainer state and a manifest of checksums):
 * architecture or step, tensors, parameters and dtypes, and for checkpoints whether every file
 * matches the manifest.
 */
final class CheckpointInspection {
  private static final ObjectMapper JSON = new ObjectMapper();

  private CheckpointInspection() {}

  private static final String TRAINER_STATE = "trainer-state.json";
  private static final String MANIFEST = "manifest.json";

  static boolean isCheckpoint(Path dir) {
    boolean weights =
        Files.isRegularFile(dir.resolve(SafetensorsDirectory.SINGLE_FILE))
            || Files.isRegularFile(dir.resolve(SafetensorsDirectory.INDEX_FILE));
    return weights
        && (Files.isRegularFile(dir.resolve("config.json"))
            || Files.isRegularFile(dir.resolve(TRAINER_STATE)));
  }

  static int run(Path dir, PrintWriter out) throws IOException {
    boolean problems = false;
    if (Files.isRegularFile(dir.resolve(TRAINER_STATE))) {
      JsonNode state = JSON.readTree(dir.resolve(TRAINER_STATE).toFile());
      out.printf(
          Locale.ROOT,
          "training checkpoint: step %s, data position %s, skipped steps %s%n",
          state.path("step"),
          state.path("dataPosition"),
          state.path("badSteps"));
      problems = !checkManifest(dir, out);
    } else {
      JsonNode config = JSON.readTree(dir.resolve("config.json").toFile());
      out.printf(
          Locale.ROOT,
          "model directory: model_type %s, architectures %s%n",
          config.path("model_type").asText("?"),
          config.path("architectures"));
    }
    try (SafetensorsDirectory weights = SafetensorsDirectory.open(dir)) {
      long parameters = 0;
      long bytes = 0;
      Map<String, Long> byDtype = new TreeMap<>();
      for (String name : weights.names()) {
        TensorInfo info = weights.info(name);
        long count = 1;
        for (long dim : info.shape()) {
          count *= dim;
        }
        parameters += count;
        bytes += info.byteLength();
        byDtype.merge(info.dtype().name(), count, Long::sum);
      }
      out.printf(
          Locale.ROOT,
          "weights: %d files, %d tensors, %,d parameters (%.1f MB) by dtype %s%n",
          weights.files().size(),
          weights.names().size(),
          parameters,
          bytes / 1e6,
          byDtype);
    }
    out.flush();
    return problems ? InspectCommand.PROBLEMS_FOUND : 0;
  }

  /** Checks every file a checkpoint's manifest lists; true when all match. */
  private static boolean checkManifest(Path dir, PrintWriter out) throws IOException {
    Path manifestFile = dir.resolve(MANIFEST);
    if (!Files.isRegularFile(manifestFile)) {
      out.println("manifest: missing (an incomplete checkpoint)");
      return false;
    }
    int mismatches = 0;
    JsonNode files = JSON.readTree(manifestFile.toFile()).path("files");
    for (JsonNode file : files) {
      Path path = dir.resolve(file.path("name").asText());
      if (!Files.isRegularFile(path)) {
        out.println("  " + file.path("name").asText() + ": missing");
        mismatches++;
      } else if (Files.size(path) != file.path("bytes").asLong()
          || !Sha256.ofFile(path).equals(file.path("sha256").asText())) {
        out.println("  " + file.path("name").asText() + ": does not match its checksum");
        mismatches++;
      }
    }
    out.println(
        mismatches == 0
            ? "manifest: " + files.size() + " files, checksums match"
            : "manifest: " + mismatches + " files do not match");
    return mismatches == 0;
  }
}
