package dev.tessera.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** A Hugging Face model directory: {@code config.json} plus safetensors weights. */
record ModelDirectory(Path path, String modelType) {

  static ModelDirectory open(Path path) throws IOException {
    Path config = path.resolve("config.json");
    if (!Files.isRegularFile(config)) {
      throw new NoSuchFileException(
          config.toString(), null, "no config.json in the model directory");
    }
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(config.toFile());
    } catch (IOException e) {
      throw new IOException(config + " is not valid JSON: " + e.getMessage(), e);
    }
    return new ModelDirectory(path, root.path("model_type").asText(""));
  }

  Path config() {
    return path.resolve("config.json");
  }

  boolean hasWeights() {
    return Files.exists(path.resolve("model.safetensors"))
        || Files.exists(path.resolve("model.safetensors.index.json"));
  }

  boolean isQwen2() {
    return modelType.equals("qwen2");
  }

  boolean isSiglip() {
    return modelType.equals("siglip") || modelType.equals("siglip_vision_model");
  }
}
