package dev.tessera.curator.curate;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.config.SiglipTextConfig;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.siglip.SiglipModel;
import dev.tessera.model.siglip.SiglipTextTower;
import dev.tessera.model.siglip.SiglipVisionTower;
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
    CpuBackend cpu = CpuBackend.get();
    SiglipVisionTower vision =
        new SiglipVisionTower(
            cpu, new SiglipVisionConfig(32, 48, 2, 4, 32, 8, 3, 1e-6, "gelu_pytorch_tanh", true));
    SiglipTextTower text =
        new SiglipTextTower(
            cpu,
            new SiglipTextConfig(
                3 + WORDS.size(), 32, 48, 2, 4, TOKENS, 1e-6, "gelu_pytorch_tanh", 32));
    vision.parameters().initialise(seed, 0.2);
    text.parameters().initialise(seed + 1, 0.2);
    new SiglipModel(vision, text, 2.3, -10).write(dir);
    Files.writeString(dir.resolve("tokenizer.json"), tokenizerJson(new ObjectMapper()));
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
