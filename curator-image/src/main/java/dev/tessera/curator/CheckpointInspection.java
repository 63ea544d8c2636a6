package dev.tessera.curator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
 * model.safetensors} or a sharded index): architecture, tensors, parameters and dtypes.
 */
final class CheckpointInspection {
  private static final ObjectMapper JSON = new ObjectMapper();

  private CheckpointInspection() {}

  static boolean isCheckpoint(Path dir) {
    return Files.isRegularFile(dir.resolve("config.json"))
        && (Files.isRegularFile(dir.resolve(SafetensorsDirectory.SINGLE_FILE))
            || Files.isRegularFile(dir.resolve(SafetensorsDirectory.INDEX_FILE)));
  }

  static int run(Path dir, PrintWriter out) throws IOException {
    JsonNode config = JSON.readTree(dir.resolve("config.json").toFile());
    out.printf(
        Locale.ROOT,
        "model directory: model_type %s, architectures %s%n",
        config.path("model_type").asText("?"),
        config.path("architectures"));
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
    return 0;
  }
}
