package dev.tessera.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.trainer.pretrain.Checkpoints;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/** A Hugging Face model directory: {@code config.json} plus safetensors weights. */
record ModelDirectory(Path path, String modelType) {

  /**
   * The model directories {@code --model} names: itself when it holds a {@code config.json} (a
   * checkpoint, or what export wrote); for a run directory its newest verified checkpoint, or with
   * {@code all} each verified one, oldest first. Checkpoints that fail verification are reported to
   * {@code log} and passed over.
   */
  static List<Path> checkpoints(Path model, boolean all, PrintWriter log) throws IOException {
    if (Files.isRegularFile(model.resolve("config.json"))) {
      if (all) {
        throw new IllegalArgumentException("--all takes a run directory, not a checkpoint");
      }
      return List.of(model);
    }
    if (!Files.isDirectory(model.resolve("checkpoints"))) {
      throw new IllegalArgumentException(
          model + " is neither a model directory (config.json) nor a run directory (checkpoints/)");
    }
    Checkpoints run = new Checkpoints(model);
    List<Path> found = all ? run.verified(log) : run.latestValid(log).stream().toList();
    if (found.isEmpty()) {
      throw new IllegalArgumentException(
          model + " is a run directory without a verified checkpoint");
    }
    return found;
  }

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
