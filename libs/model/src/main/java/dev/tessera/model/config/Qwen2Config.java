package dev.tessera.model.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The decoder's shape, from a Qwen2 / Qwen2.5 {@code config.json}. Absent fields take the defaults
 * of Hugging Face's {@code Qwen2Config}; {@code num_key_value_heads} defaults to the number of
 * attention heads.
 *
 * @param torchDtype the checkpoint's stored type ("bfloat16"), or null when the config names none
 */
public record Qwen2Config(
    int hiddenSize,
    int intermediateSize,
    int numHiddenLayers,
    int numAttentionHeads,
    int numKeyValueHeads,
    int vocabSize,
    double rmsNormEps,
    double ropeTheta,
    boolean tieWordEmbeddings,
    int maxPositionEmbeddings,
    String torchDtype) {

  /** Validates: positive sizes, heads dividing the hidden size, KV heads dividing the heads. */
  public Qwen2Config {
    Json.requirePositive("hidden_size", hiddenSize);
    Json.requirePositive("intermediate_size", intermediateSize);
    Json.requirePositive("num_hidden_layers", numHiddenLayers);
    Json.requirePositive("num_attention_heads", numAttentionHeads);
    Json.requirePositive("num_key_value_heads", numKeyValueHeads);
    Json.requirePositive("vocab_size", vocabSize);
    Json.requirePositive("max_position_embeddings", maxPositionEmbeddings);
    Json.requireDivides("num_attention_heads", numAttentionHeads, "hidden_size", hiddenSize);
    Json.requireDivides(
        "num_key_value_heads", numKeyValueHeads, "num_attention_heads", numAttentionHeads);
    if (!(rmsNormEps > 0) || !(ropeTheta > 0)) {
      throw new IllegalArgumentException(
          "rms_norm_eps and rope_theta must be positive, got " + rmsNormEps + ", " + ropeTheta);
    }
  }

  /** Reads and validates {@code config.json}; errors name the file. */
  public static Qwen2Config read(Path configJson) throws IOException {
    return from(Json.read(configJson), configJson.toString());
  }

  /** Parses {@code config.json} text; {@code source} names it in errors. */
  public static Qwen2Config parse(String json, String source) throws IOException {
    return from(Json.parse(json, source), source);
  }

  private static Qwen2Config from(JsonNode root, String source) throws IOException {
    try {
      String modelType = Json.text(root, "model_type", "qwen2");
      if (!modelType.equals("qwen2")) {
        throw new IllegalArgumentException("model_type is '" + modelType + "', not 'qwen2'");
      }
      int heads = Json.integer(root, "num_attention_heads", 32);
      return new Qwen2Config(
          Json.integer(root, "hidden_size", 4096),
          Json.integer(root, "intermediate_size", 22016),
          Json.integer(root, "num_hidden_layers", 32),
          heads,
          Json.integer(root, "num_key_value_heads", heads),
          Json.integer(root, "vocab_size", 151936),
          Json.number(root, "rms_norm_eps", 1e-6),
          Json.number(root, "rope_theta", 10000.0),
          Json.bool(root, "tie_word_embeddings", false),
          Json.integer(root, "max_position_embeddings", 32768),
          Json.text(root, "torch_dtype", null));
    } catch (IllegalArgumentException e) {
      throw new IOException(source + ": invalid Qwen2 config: " + e.getMessage(), e);
    }
  }

  /** This configuration as Hugging Face writes a Qwen2 {@code config.json}. */
  public Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("architectures", List.of("Qwen2ForCausalLM"));
    json.put("model_type", "qwen2");
    json.put("hidden_act", "silu");
    json.put("hidden_size", hiddenSize);
    json.put("intermediate_size", intermediateSize);
    json.put("num_hidden_layers", numHiddenLayers);
    json.put("num_attention_heads", numAttentionHeads);
    json.put("num_key_value_heads", numKeyValueHeads);
    json.put("vocab_size", vocabSize);
    json.put("rms_norm_eps", rmsNormEps);
    json.put("rope_theta", ropeTheta);
    json.put("tie_word_embeddings", tieWordEmbeddings);
    json.put("max_position_embeddings", maxPositionEmbeddings);
    if (torchDtype != null) {
      json.put("torch_dtype", torchDtype);
    }
    return json;
  }

  /** Per-head dimension: hidden size / attention heads. */
  public int headDim() {
    return hiddenSize / numAttentionHeads;
  }

  /** Width of the K and V projections: KV heads × head dimension. */
  public int kvDim() {
    return numKeyValueHeads * headDim();
  }
}
