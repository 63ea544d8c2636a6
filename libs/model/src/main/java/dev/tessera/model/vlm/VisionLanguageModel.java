package dev.tessera.model.vlm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.packed.PackedLayout;
import dev.tessera.engine.Backend;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.SafetensorsFile;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipVisionTower;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A whole Open-Qwen2VL-style model read from a directory as the trainer writes it (a checkpoint
 * step or an export): {@code config.json} with {@code text_config}, {@code vision_config} and
 * {@code projector}, and {@code model.safetensors} with every part under Hugging Face names.
 *
 * @param tower the SigLIP vision tower
 * @param projector the average-pool projector
 * @param decoder the Qwen2 decoder
 */
public record VisionLanguageModel(
    SiglipVisionTower tower, AvgPoolProjector projector, Qwen2Decoder decoder) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Loads the model in {@code dir}.
   *
   * @param pooledSide the projector's pooled grid side (k for k×k image tokens), or 0 for the
   *     checkpoint's own
   * @throws IllegalArgumentException when the configuration is missing parts or the pooled side
   *     does not fit the tower's patch grid
   */
  public static VisionLanguageModel load(Backend backend, Path dir, int pooledSide)
      throws IOException {
    Path configFile = dir.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException(dir + " has no config.json: not a model directory");
    }
    JsonNode config = JSON.readTree(configFile.toFile());
    for (String part : new String[] {"text_config", "vision_config"}) {
      if (!config.has(part)) {
        throw new IllegalArgumentException(configFile + " has no " + part);
      }
    }
    Qwen2Config llm =
        Qwen2Config.parse(config.path("text_config").toString(), dir + " text_config");
    SiglipVisionConfig vision =
        SiglipVisionConfig.parse(config.path("vision_config").toString(), dir + " vision_config");
    int grid = vision.patchesPerSide();
    int pooled =
        pooledSide > 0 ? pooledSide : config.path("projector").path("pooled_side").asInt(grid);
    if (pooled < 1 || pooled > grid) {
      throw new IllegalArgumentException(
          pooled
              + "x"
              + pooled
              + " image tokens, but the checkpoint's tower has a "
              + grid
              + "x"
              + grid
              + " patch grid");
    }
    VisionLanguageModel model =
        new VisionLanguageModel(
            new SiglipVisionTower(backend, vision),
            new AvgPoolProjector(backend, vision.hiddenSize(), llm.hiddenSize(), grid, pooled),
            new Qwen2Decoder(backend, llm, false));
    try (SafetensorsFile weights = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
      model.tower().parameters().load(weights);
      model.projector().parameters().load(weights);
      model.decoder().parameters().load(weights);
    }
    return model;
  }

  /**
   * Writes this model as {@link #load} reads it: {@code model.safetensors} with every part and
   * {@code config.json} with the parts' configurations.
   */
  public void write(Path dir) throws IOException {
    contents(false).write(dir);
  }

  /**
   * The weights and configuration copied to the host: what {@link #write} writes, unchanged by
   * later training, so it can be written while training goes on.
   */
  public Snapshot snapshot() throws IOException {
    return contents(true);
  }

  /** A model's files ready to be written; see {@link #snapshot}. */
  public static final class Snapshot {
    private final SafetensorsWriter weights;
    private final byte[] config;

    private Snapshot(SafetensorsWriter weights, byte[] config) {
      this.weights = weights;
      this.config = config;
    }

    /** Writes {@code model.safetensors} and {@code config.json} into {@code dir}. */
    public void write(Path dir) throws IOException {
      Files.createDirectories(dir);
      weights.write(dir.resolve("model.safetensors"));
      AtomicFiles.write(dir.resolve("config.json"), config);
    }
  }

  /** The model's files, the weights read in place at write time or copied now. */
  private Snapshot contents(boolean copy) throws IOException {
    SafetensorsWriter weights = new SafetensorsWriter().metadata("format", "pt");
    for (Parameters part :
        List.of(tower.parameters(), projector.parameters(), decoder.parameters())) {
      for (String name : part.names()) {
        Tensor value = part.value(name);
        if (copy) {
          weights.add(name, DType.F32, value.shape(), value.backend().toHost(value));
        } else {
          weights.add(name, DType.F32, value);
        }
      }
    }
    return new Snapshot(weights, JSON.writeValueAsBytes(configJson()));
  }

  /**
   * The whole model's {@code config.json}: the decoder's and the tower's Hugging Face configs and
   * the projector's shape.
   */
  public Map<String, Object> configJson() {
    Map<String, Object> projectorJson = new LinkedHashMap<>();
    projectorJson.put("type", "avg_pool_mlp");
    projectorJson.put("grid", projector.grid());
    projectorJson.put("pooled_side", projector.pooled());
    projectorJson.put("vision_hidden_size", tower.config().hiddenSize());
    projectorJson.put("hidden_size", decoder.config().hiddenSize());
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("architectures", List.of("OpenQwen2VLForCausalLM"));
    json.put("model_type", "open_qwen2vl");
    json.put("image_token_index", PackedLayout.IMAGE_TOKEN_ID);
    json.put("tokens_per_image", projector.tokensPerImage());
    json.put("text_config", decoder.config().toJson());
    json.put("vision_config", tower.config().toJson());
    json.put("projector", projectorJson);
    return json;
  }

  /** The projector and decoder as the trainable part (for training and next-token logits). */
  public OpenQwen2VL vlm(Backend backend) {
    return new OpenQwen2VL(backend, projector, decoder);
  }
}
