package dev.tessera.model.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A CLIP model's shape, from a Hugging Face {@code config.json} with {@code model_type "clip"} (its
 * {@code vision_config} and {@code text_config}). Absent fields take the defaults of Hugging Face's
 * {@code CLIPConfig}: ViT-B/32 with a 12-layer text tower, {@code quick_gelu} activations.
 *
 * @param projectionDim width of both embeddings ({@code visual_projection}, {@code
 *     text_projection})
 */
public record ClipConfig(Vision vision, Text text, int projectionDim) {

  /** The vision tower: a ViT with a class token, a pre-layernorm and a post-layernorm. */
  public record Vision(
      int hiddenSize,
      int intermediateSize,
      int numHiddenLayers,
      int numAttentionHeads,
      int imageSize,
      int patchSize,
      int numChannels,
      double layerNormEps,
      String hiddenAct) {

    /** Validates: positive sizes, heads dividing the hidden size, patches tiling the image. */
    public Vision {
      Json.requirePositive("vision_config.hidden_size", hiddenSize);
      Json.requirePositive("vision_config.intermediate_size", intermediateSize);
      Json.requirePositive("vision_config.num_hidden_layers", numHiddenLayers);
      Json.requirePositive("vision_config.num_attention_heads", numAttentionHeads);
      Json.requirePositive("vision_config.image_size", imageSize);
      Json.requirePositive("vision_config.patch_size", patchSize);
      Json.requirePositive("vision_config.num_channels", numChannels);
      Json.requireDivides(
          "vision_config.num_attention_heads",
          numAttentionHeads,
          "vision_config.hidden_size",
          hiddenSize);
      if (patchSize > imageSize) {
        throw new IllegalArgumentException(
            "vision_config.patch_size " + patchSize + " exceeds image_size " + imageSize);
      }
      requireEps(layerNormEps);
    }

    public int patchesPerSide() {
      return imageSize / patchSize;
    }

    /** Patch tokens per image; the position embedding has one more row, the class token's. */
    public int numPatches() {
      return patchesPerSide() * patchesPerSide();
    }

    Map<String, Object> toJson() {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("model_type", "clip_vision_model");
      json.put("hidden_size", hiddenSize);
      json.put("intermediate_size", intermediateSize);
      json.put("num_hidden_layers", numHiddenLayers);
      json.put("num_attention_heads", numAttentionHeads);
      json.put("image_size", imageSize);
      json.put("patch_size", patchSize);
      json.put("num_channels", numChannels);
      json.put("layer_norm_eps", layerNormEps);
      json.put("hidden_act", hiddenAct);
      return json;
    }
  }

  /**
   * The text tower: causal, pooled at the end-of-text token.
   *
   * @param eosTokenId the token whose position is pooled; 2 is Hugging Face's marker of the
   *     original OpenAI configs, which pool the position of the largest id instead (the end-of-text
   *     token is the last of the vocabulary)
   */
  public record Text(
      int vocabSize,
      int hiddenSize,
      int intermediateSize,
      int numHiddenLayers,
      int numAttentionHeads,
      int maxPositionEmbeddings,
      double layerNormEps,
      String hiddenAct,
      int eosTokenId) {

    /** Validates: positive sizes, heads dividing the hidden size. */
    public Text {
      Json.requirePositive("text_config.vocab_size", vocabSize);
      Json.requirePositive("text_config.hidden_size", hiddenSize);
      Json.requirePositive("text_config.intermediate_size", intermediateSize);
      Json.requirePositive("text_config.num_hidden_layers", numHiddenLayers);
      Json.requirePositive("text_config.num_attention_heads", numAttentionHeads);
      Json.requirePositive("text_config.max_position_embeddings", maxPositionEmbeddings);
      Json.requireDivides(
          "text_config.num_attention_heads",
          numAttentionHeads,
          "text_config.hidden_size",
          hiddenSize);
      requireEps(layerNormEps);
    }

    /**
     * Whether pooling takes the largest id's position (Hugging Face's {@code eos_token_id == 2}).
     */
    public boolean poolsLargestId() {
      return eosTokenId == 2;
    }

    Map<String, Object> toJson() {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("model_type", "clip_text_model");
      json.put("vocab_size", vocabSize);
      json.put("hidden_size", hiddenSize);
      json.put("intermediate_size", intermediateSize);
      json.put("num_hidden_layers", numHiddenLayers);
      json.put("num_attention_heads", numAttentionHeads);
      json.put("max_position_embeddings", maxPositionEmbeddings);
      json.put("layer_norm_eps", layerNormEps);
      json.put("hidden_act", hiddenAct);
      json.put("eos_token_id", eosTokenId);
      return json;
    }
  }

  public ClipConfig {
    Json.requirePositive("projection_dim", projectionDim);
  }

  private static void requireEps(double eps) {
    if (!(eps > 0)) {
      throw new IllegalArgumentException("layer_norm_eps must be positive, got " + eps);
    }
  }

  /** Reads and validates {@code config.json}; errors name the file. */
  public static ClipConfig read(Path configJson) throws IOException {
    return from(Json.read(configJson), configJson.toString());
  }

  /** Parses {@code config.json} text; {@code source} names it in errors. */
  public static ClipConfig parse(String json, String source) throws IOException {
    return from(Json.parse(json, source), source);
  }

  private static ClipConfig from(JsonNode root, String source) throws IOException {
    try {
      String modelType = Json.text(root, "model_type", null);
      if (!"clip".equals(modelType)) {
        throw new IllegalArgumentException("model_type is '" + modelType + "', not 'clip'");
      }
      JsonNode vision = object(root, "vision_config");
      JsonNode text = object(root, "text_config");
      return new ClipConfig(
          new Vision(
              Json.integer(vision, "hidden_size", 768),
              Json.integer(vision, "intermediate_size", 3072),
              Json.integer(vision, "num_hidden_layers", 12),
              Json.integer(vision, "num_attention_heads", 12),
              Json.integer(vision, "image_size", 224),
              Json.integer(vision, "patch_size", 32),
              Json.integer(vision, "num_channels", 3),
              Json.number(vision, "layer_norm_eps", 1e-5),
              Json.text(vision, "hidden_act", "quick_gelu")),
          new Text(
              Json.integer(text, "vocab_size", 49408),
              Json.integer(text, "hidden_size", 512),
              Json.integer(text, "intermediate_size", 2048),
              Json.integer(text, "num_hidden_layers", 12),
              Json.integer(text, "num_attention_heads", 8),
              Json.integer(text, "max_position_embeddings", 77),
              Json.number(text, "layer_norm_eps", 1e-5),
              Json.text(text, "hidden_act", "quick_gelu"),
              Json.integer(text, "eos_token_id", 49407)),
          Json.integer(root, "projection_dim", 512));
    } catch (IllegalArgumentException e) {
      throw new IOException(source + ": invalid CLIP config: " + e.getMessage(), e);
    }
  }

  /** An absent section takes every default; a present one must be an object. */
  private static JsonNode object(JsonNode root, String field) {
    JsonNode node = root.get(field);
    if (node == null || node.isNull()) {
      return JsonNodeFactory.instance.objectNode();
    }
    if (!node.isObject()) {
      throw new IllegalArgumentException(field + " must be an object");
    }
    return node;
  }

  /** This configuration as Hugging Face writes a {@code CLIPModel}'s {@code config.json}. */
  public Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("architectures", List.of("CLIPModel"));
    json.put("model_type", "clip");
    json.put("projection_dim", projectionDim);
    json.put("text_config", text.toJson());
    json.put("vision_config", vision.toJson());
    return json;
  }
}
