package dev.tessera.model.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The text tower's shape, from a full SigLIP {@code config.json} ({@code model_type "siglip"}, read
 * from its {@code text_config}) or a text-only one ({@code "siglip_text_model"}). Absent fields
 * take the defaults of Hugging Face's {@code SiglipTextConfig}.
 *
 * @param maxPositionEmbeddings the tokens of a caption: SigLIP pads or cuts every caption to it
 * @param projectionSize width of the text embedding ({@code text_model.head}), the vision tower's
 *     hidden size in the published checkpoints
 */
public record SiglipTextConfig(
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int numHiddenLayers,
    int numAttentionHeads,
    int maxPositionEmbeddings,
    double layerNormEps,
    String hiddenAct,
    int projectionSize) {

  /** Validates: positive sizes, heads dividing the hidden size. */
  public SiglipTextConfig {
    Json.requirePositive("vocab_size", vocabSize);
    Json.requirePositive("hidden_size", hiddenSize);
    Json.requirePositive("intermediate_size", intermediateSize);
    Json.requirePositive("num_hidden_layers", numHiddenLayers);
    Json.requirePositive("num_attention_heads", numAttentionHeads);
    Json.requirePositive("max_position_embeddings", maxPositionEmbeddings);
    Json.requirePositive("projection_size", projectionSize);
    Json.requireDivides("num_attention_heads", numAttentionHeads, "hidden_size", hiddenSize);
    if (!(layerNormEps > 0)) {
      throw new IllegalArgumentException("layer_norm_eps must be positive, got " + layerNormEps);
    }
  }

  /** Reads and validates {@code config.json}; errors name the file. */
  public static SiglipTextConfig read(Path configJson) throws IOException {
    return from(Json.read(configJson), configJson.toString());
  }

  /** Parses {@code config.json} text; {@code source} names it in errors. */
  public static SiglipTextConfig parse(String json, String source) throws IOException {
    return from(Json.parse(json, source), source);
  }

  private static SiglipTextConfig from(JsonNode root, String source) throws IOException {
    try {
      String modelType = Json.text(root, "model_type", null);
      JsonNode text;
      if ("siglip".equals(modelType) || (modelType == null && root.has("text_config"))) {
        text = root.get("text_config");
        if (text == null || !text.isObject()) {
          throw new IllegalArgumentException("model_type 'siglip' without a text_config object");
        }
      } else if (modelType == null || "siglip_text_model".equals(modelType)) {
        text = root;
      } else {
        throw new IllegalArgumentException(
            "model_type is '" + modelType + "', not 'siglip' or 'siglip_text_model'");
      }
      int hidden = Json.integer(text, "hidden_size", 768);
      return new SiglipTextConfig(
          Json.integer(text, "vocab_size", 32000),
          hidden,
          Json.integer(text, "intermediate_size", 3072),
          Json.integer(text, "num_hidden_layers", 12),
          Json.integer(text, "num_attention_heads", 12),
          Json.integer(text, "max_position_embeddings", 64),
          Json.number(text, "layer_norm_eps", 1e-6),
          Json.text(text, "hidden_act", "gelu_pytorch_tanh"),
          Json.integer(text, "projection_size", hidden));
    } catch (IllegalArgumentException e) {
      throw new IOException(source + ": invalid SigLIP text config: " + e.getMessage(), e);
    }
  }

  /** This configuration as Hugging Face writes a {@code siglip_text_model} {@code config.json}. */
  public Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("model_type", "siglip_text_model");
    json.put("vocab_size", vocabSize);
    json.put("hidden_size", hiddenSize);
    json.put("intermediate_size", intermediateSize);
    json.put("num_hidden_layers", numHiddenLayers);
    json.put("num_attention_heads", numAttentionHeads);
    json.put("max_position_embeddings", maxPositionEmbeddings);
    json.put("layer_norm_eps", layerNormEps);
    json.put("hidden_act", hiddenAct);
    json.put("projection_size", projectionSize);
    return json;
  }

  public int headDim() {
    return hiddenSize / numAttentionHeads;
  }
}
