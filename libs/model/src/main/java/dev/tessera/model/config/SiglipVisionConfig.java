package dev.tessera.model.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The vision tower's shape, from a full SigLIP {@code config.json} ({@code model_type "siglip"},
 * read from its {@code vision_config}) or a vision-only one ({@code "siglip_vision_model"}). Absent
 * fields take the defaults of Hugging Face's {@code SiglipVisionConfig}.
 *
 * @param useHead whether the tower has the attention-pooling head ({@code vision_use_head}, HF
 *     default true)
 */
public record SiglipVisionConfig(
    int hiddenSize,
    int intermediateSize,
    int numHiddenLayers,
    int numAttentionHeads,
    int imageSize,
    int patchSize,
    int numChannels,
    double layerNormEps,
    String hiddenAct,
    boolean useHead) {

  /** Validates: positive sizes, heads dividing the hidden size, patches tiling the image. */
  public SiglipVisionConfig {
    Json.requirePositive("hidden_size", hiddenSize);
    Json.requirePositive("intermediate_size", intermediateSize);
    Json.requirePositive("num_hidden_layers", numHiddenLayers);
    Json.requirePositive("num_attention_heads", numAttentionHeads);
    Json.requirePositive("image_size", imageSize);
    Json.requirePositive("patch_size", patchSize);
    Json.requirePositive("num_channels", numChannels);
    Json.requireDivides("num_attention_heads", numAttentionHeads, "hidden_size", hiddenSize);
    if (patchSize > imageSize) {
      throw new IllegalArgumentException(
          "patch_size " + patchSize + " exceeds image_size " + imageSize);
    }
    if (!(layerNormEps > 0)) {
      throw new IllegalArgumentException("layer_norm_eps must be positive, got " + layerNormEps);
    }
  }

  /** Reads and validates {@code config.json}; errors name the file. */
  public static SiglipVisionConfig read(Path configJson) throws IOException {
    return from(Json.read(configJson), configJson.toString());
  }

  /** Parses {@code config.json} text; {@code source} names it in errors. */
  public static SiglipVisionConfig parse(String json, String source) throws IOException {
    return from(Json.parse(json, source), source);
  }

  private static SiglipVisionConfig from(JsonNode root, String source) throws IOException {
    try {
      String modelType = Json.text(root, "model_type", null);
      JsonNode vision;
      if ("siglip".equals(modelType) || (modelType == null && root.has("vision_config"))) {
        vision = root.get("vision_config");
        if (vision == null || !vision.isObject()) {
          throw new IllegalArgumentException("model_type 'siglip' without a vision_config object");
        }
      } else if (modelType == null || "siglip_vision_model".equals(modelType)) {
        vision = root;
      } else {
        throw new IllegalArgumentException(
            "model_type is '" + modelType + "', not 'siglip' or 'siglip_vision_model'");
      }
      return new SiglipVisionConfig(
          Json.integer(vision, "hidden_size", 768),
          Json.integer(vision, "intermediate_size", 3072),
          Json.integer(vision, "num_hidden_layers", 12),
          Json.integer(vision, "num_attention_heads", 12),
          Json.integer(vision, "image_size", 224),
          Json.integer(vision, "patch_size", 16),
          Json.integer(vision, "num_channels", 3),
          Json.number(vision, "layer_norm_eps", 1e-6),
          Json.text(vision, "hidden_act", "gelu_pytorch_tanh"),
          Json.bool(vision, "vision_use_head", true));
    } catch (IllegalArgumentException e) {
      throw new IOException(source + ": invalid SigLIP vision config: " + e.getMessage(), e);
    }
  }

  /**
   * This configuration as Hugging Face writes a {@code siglip_vision_model} {@code config.json}.
   */
  public Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("architectures", List.of("SiglipVisionModel"));
    json.put("model_type", "siglip_vision_model");
    json.put("hidden_size", hiddenSize);
    json.put("intermediate_size", intermediateSize);
    json.put("num_hidden_layers", numHiddenLayers);
    json.put("num_attention_heads", numAttentionHeads);
    json.put("image_size", imageSize);
    json.put("patch_size", patchSize);
    json.put("num_channels", numChannels);
    json.put("layer_norm_eps", layerNormEps);
    json.put("hidden_act", hiddenAct);
    json.put("vision_use_head", useHead);
    return json;
  }

  /** Patches per side: image size / patch size (the convolution drops a remainder). */
  public int patchesPerSide() {
    return imageSize / patchSize;
  }

  /** Patch tokens per image, the rows of the position embedding. */
  public int numPatches() {
    return patchesPerSide() * patchesPerSide();
  }

  public int headDim() {
    return hiddenSize / numAttentionHeads;
  }

  /** The same tower with or without the pooling head. */
  public SiglipVisionConfig withHead(boolean head) {
    return new SiglipVisionConfig(
        hiddenSize,
        intermediateSize,
        numHiddenLayers,
        numAttentionHeads,
        imageSize,
        patchSize,
        numChannels,
        layerNormEps,
        hiddenAct,
        head);
  }
}
