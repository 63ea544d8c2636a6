package dev.tessera.curator.curate;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.DType;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.SiglipTextConfig;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A tiny random SigLIP checkpoint in Hugging Face layout (config.json, model.safetensors) and a
 * word-level tokenizer.json whose post-processor appends {@code </s>}, for the clipScore tests.
 */
final class TinySiglip {
  static final int TOKENS = 8;
  static final List<String> WORDS =
      List.of("a", "red", "green", "blue", "cat", "dog", "square", "circle", "on", "the", "grass");

  private TinySiglip() {}

  static void write(Path dir, long seed) throws IOException {
    Files.createDirectories(dir);
    SiglipVisionConfig vision =
        new SiglipVisionConfig(32, 48, 2, 4, 32, 8, 3, 1e-6, "gelu_pytorch_tanh", true);
    int vocab = 3 + WORDS.size();
    SiglipTextConfig text =
        new SiglipTextConfig(vocab, 32, 48, 2, 4, TOKENS, 1e-6, "gelu_pytorch_tanh", 32);
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("model_type", "siglip");
    config.put("vision_config", vision.toJson());
    Map<String, Object> textJson = new LinkedHashMap<>();
    textJson.put("vocab_size", vocab);
    textJson.put("hidden_size", 32);
    textJson.put("intermediate_size", 48);
    textJson.put("num_hidden_layers", 2);
    textJson.put("num_attention_heads", 4);
    textJson.put("max_position_embeddings", TOKENS);
    config.put("text_config", textJson);
    ObjectMapper json = new ObjectMapper();
    Files.writeString(dir.resolve("config.json"), json.writeValueAsString(config));

    CpuBackend cpu = CpuBackend.get();
    SafetensorsWriter writer = new SafetensorsWriter();
    Parameters visionParameters = new Parameters(cpu, ModelParameters.siglipVision(vision));
    visionParameters.initialise(seed, 0.2);
    Parameters textParameters = new Parameters(cpu, ModelParameters.siglipText(text));
    textParameters.initialise(seed + 1, 0.2);
    for (Parameters parameters : List.of(visionParameters, textParameters)) {
      parameters.values().forEach((name, tensor) -> writer.add(name, DType.F32, tensor));
    }
    writer.add("logit_scale", DType.F32, new int[] {1}, new float[] {2.3f});
    writer.add("logit_bias", DType.F32, new int[] {1}, new float[] {-10f});
    writer.write(dir.resolve("model.safetensors"));
    Files.writeString(dir.resolve("tokenizer.json"), tokenizerJson(json));
  }

  /** ids: {@code <pad>} 0, {@code </s>} 1, {@code <unk>} 2, then the words. */
  private static String tokenizerJson(ObjectMapper json) throws IOException {
    Map<String, Object> vocab = new LinkedHashMap<>();
    vocab.put("<pad>", 0);
    vocab.put("</s>", 1);
    vocab.put("<unk>", 2);
    for (int i = 0; i < WORDS.size(); i++) {
      vocab.put(WORDS.get(i), 3 + i);
    }
    List<Object> added = new ArrayList<>();
    String[] specials = {"<pad>", "</s>", "<unk>"};
    for (int id = 0; id < specials.length; id++) {
      Map<String, Object> token = new LinkedHashMap<>();
      token.put("id", id);
      token.put("content", specials[id]);
      token.put("single_word", false);
      token.put("lstrip", false);
      token.put("rstrip", false);
      token.put("normalized", false);
      token.put("special", true);
      added.add(token);
    }
    Map<String, Object> eos = Map.of("id", "</s>", "ids", List.of(1), "tokens", List.of("</s>"));
    Map<String, Object> post = new LinkedHashMap<>();
    post.put("type", "TemplateProcessing");
    post.put(
        "single",
        List.of(
            Map.of("Sequence", Map.of("id", "A", "type_id", 0)),
            Map.of("SpecialToken", Map.of("id", "</s>", "type_id", 0))));
    post.put(
        "pair",
        List.of(
            Map.of("Sequence", Map.of("id", "A", "type_id", 0)),
            Map.of("Sequence", Map.of("id", "B", "type_id", 0)),
            Map.of("SpecialToken", Map.of("id", "</s>", "type_id", 0))));
    post.put("special_tokens", Map.of("</s>", eos));
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("version", "1.0");
    root.put("truncation", null);
    root.put("padding", null);
    root.put("added_tokens", added);
    root.put("normalizer", Map.of("type", "Lowercase"));
    root.put("pre_tokenizer", Map.of("type", "Whitespace"));
    root.put("post_processor", post);
    root.put("decoder", null);
    root.put("model", Map.of("type", "WordLevel", "vocab", vocab, "unk_token", "<unk>"));
    return json.writeValueAsString(root);
  }
}
