package dev.tessera.curator.curate;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.clip.ClipImageProcessor;
import dev.tessera.model.clip.ClipModel;
import dev.tessera.model.clip.ClipTextTower;
import dev.tessera.model.clip.ClipVisionTower;
import dev.tessera.model.config.ClipConfig;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipTextConfig;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipModel;
import dev.tessera.model.siglip.SiglipTextTower;
import dev.tessera.model.siglip.SiglipVisionTower;
import dev.tessera.model.vlm.AvgPoolProjector;
import dev.tessera.model.vlm.VisionLanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tiny random image–text checkpoints in Hugging Face layout (config.json, model.safetensors) with
 * word-level tokenizer.json files shaped like the real ones, for the clipScore tests: a SigLIP
 * whose post-processor appends {@code </s>}, and a CLIP whose post-processor wraps captions in
 * {@code <|startoftext|>} and {@code <|endoftext|>} as OpenAI's tokenizer does.
 */
final class TinyImageText {
  /** Caption tokens of both text towers. */
  static final int TOKENS = 8;

  static final List<String> WORDS =
      List.of("a", "red", "green", "blue", "cat", "dog", "square", "circle", "on", "the", "grass");

  /** CLIP ids: {@code <unk>} 0, the words 1..11, start 12, end-of-text 13 (the largest). */
  static final int CLIP_START = 1 + WORDS.size();

  static final int CLIP_END = CLIP_START + 1;

  private TinyImageText() {}

  /** SigLIP ids: {@code <pad>} 0, {@code </s>} 1, {@code <unk>} 2, then the words. */
  static void writeSiglip(Path dir, long seed) throws IOException {
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
    Map<String, Object> vocab = new LinkedHashMap<>();
    List<String> specials = List.of("<pad>", "</s>", "<unk>");
    specials.forEach(token -> vocab.put(token, vocab.size()));
    WORDS.forEach(word -> vocab.put(word, vocab.size()));
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
    post.put(
        "special_tokens",
        Map.of("</s>", Map.of("id", "</s>", "ids", List.of(1), "tokens", List.of("</s>"))));
    Files.writeString(dir.resolve("tokenizer.json"), tokenizerJson(vocab, specials, post));
  }

  /**
   * A tiny CLIP, 32-pixel images in 8-pixel patches, QuickGELU, pooled at {@code eosTokenId} (2:
   * OpenAI's old configs, which pool the largest id).
   */
  static ClipModel writeClip(Path dir, long seed, int eosTokenId) throws IOException {
    CpuBackend cpu = CpuBackend.get();
    ClipConfig config =
        new ClipConfig(
            new ClipConfig.Vision(32, 48, 2, 4, 32, 8, 3, 1e-5, "quick_gelu"),
            new ClipConfig.Text(CLIP_END + 1, 32, 48, 2, 4, TOKENS, 1e-5, "quick_gelu", eosTokenId),
            24);
    ClipVisionTower vision = new ClipVisionTower(cpu, config);
    ClipTextTower text = new ClipTextTower(cpu, config);
    vision.parameters().initialise(seed, 0.2);
    text.parameters().initialise(seed + 1, 0.2);
    ClipModel model = new ClipModel(config, vision, text, ClipImageProcessor.openai(32), 4.6);
    model.write(dir);
    Map<String, Object> vocab = new LinkedHashMap<>();
    vocab.put("<unk>", 0);
    WORDS.forEach(word -> vocab.put(word, vocab.size()));
    vocab.put("<|startoftext|>", CLIP_START);
    vocab.put("<|endoftext|>", CLIP_END);
    Map<String, Object> post = new LinkedHashMap<>();
    post.put("type", "RobertaProcessing");
    post.put("sep", List.of("<|endoftext|>", CLIP_END));
    post.put("cls", List.of("<|startoftext|>", CLIP_START));
    post.put("trim_offsets", false);
    post.put("add_prefix_space", false);
    Files.writeString(
        dir.resolve("tokenizer.json"),
        tokenizerJson(vocab, List.of("<unk>", "<|startoftext|>", "<|endoftext|>"), post));
    return model;
  }

  /**
   * A tiny random vision-language model for the MLM-Filter tests: a 32-pixel SigLIP tower, a 2 x 2
   * pooling projector and a one-layer decoder with the Qwen vocabulary.
   */
  static void writeVlm(Path dir) throws IOException {
    writeVlm(dir, new int[0]);
  }

  /**
   * As {@link #writeVlm(Path)}, with an untied head whose rows for {@code favoured} tokens are
   * scaled up 40 times, so the model tends to answer with them (digits: greedy numbers).
   */
  static void writeVlm(Path dir, int[] favoured) throws IOException {
    CpuBackend cpu = CpuBackend.get();
    boolean tied = favoured.length == 0;
    Qwen2Config llm =
        new Qwen2Config(16, 32, 1, 2, 1, 151_936, 1e-6, 10000.0, tied, 512, "float32");
    SiglipVisionConfig vision =
        new SiglipVisionConfig(16, 32, 2, 2, 32, 8, 3, 1e-6, "gelu_pytorch_tanh", false);
    SiglipVisionTower tower = new SiglipVisionTower(cpu, vision);
    AvgPoolProjector projector = new AvgPoolProjector(cpu, 16, 16, 4, 2);
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, llm, false);
    tower.parameters().initialise(1, 0.2);
    projector.parameters().initialise(2, 0.3);
    decoder.parameters().initialise(3, 0.5);
    if (!tied) {
      Tensor head = decoder.parameters().value("lm_head.weight");
      float[] rows = cpu.toHost(head);
      for (int token : favoured) {
        for (int i = token * 16; i < (token + 1) * 16; i++) {
          rows[i] *= 40;
        }
      }
      cpu.copyFromHost(rows, head);
    }
    new VisionLanguageModel(tower, projector, decoder).write(dir);
  }

  /**
   * A tiny random LLaVA-style checkpoint in {@code dir}: Qwen-vocabulary decoder, mlp2x_gelu
   * projector under {@code model.mm_projector.*}, and a 32-pixel CLIP tower written to {@code
   * tower} (not named by {@code mm_vision_tower}, which holds the hub name as published configs
   * do).
   */
  static void writeLlava(Path dir, Path tower) throws IOException {
    CpuBackend cpu = CpuBackend.get();
    ClipModel clip = writeClip(tower, 9, CLIP_END);
    Qwen2Config llm =
        new Qwen2Config(16, 32, 1, 2, 1, 151_936, 1e-6, 10000.0, true, 512, "float32");
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, llm, false);
    decoder.parameters().initialise(3, 0.5);
    AvgPoolProjector projector = new AvgPoolProjector(cpu, 32, 16, 4, 4);
    projector.parameters().initialise(4, 0.3);
    SafetensorsWriter weights = new SafetensorsWriter();
    for (String name : decoder.parameters().names()) {
      weights.add(name, DType.F32, decoder.parameters().value(name));
    }
    for (String name : projector.parameters().names()) {
      weights.add(
          "model.mm_projector." + name.substring("projector.".length()),
          DType.F32,
          projector.parameters().value(name));
    }
    Files.createDirectories(dir);
    weights.write(dir.resolve("model.safetensors"));
    Map<String, Object> config = llm.toJson();
    config.put("model_type", "llava_qwen");
    config.put("mm_vision_tower", "openai/clip-vit-large-patch14-336");
    config.put("mm_hidden_size", clip.config().vision().hiddenSize());
    config.put("mm_projector_type", "mlp2x_gelu");
    config.put("mm_vision_select_layer", -2);
    config.put("mm_vision_select_feature", "patch");
    config.put("image_aspect_ratio", "pad");
    Files.writeString(dir.resolve("config.json"), new ObjectMapper().writeValueAsString(config));
  }

  private static String tokenizerJson(
      Map<String, Object> vocab, List<String> specials, Map<String, Object> postProcessor)
      throws IOException {
    List<Object> added = new ArrayList<>();
    for (String special : specials) {
      Map<String, Object> token = new LinkedHashMap<>();
      token.put("id", vocab.get(special));
      token.put("content", special);
      token.put("single_word", false);
      token.put("lstrip", false);
      token.put("rstrip", false);
      token.put("normalized", false);
      token.put("special", true);
      added.add(token);
    }
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("version", "1.0");
    root.put("truncation", null);
    root.put("padding", null);
    root.put("added_tokens", added);
    root.put("normalizer", Map.of("type", "Lowercase"));
    root.put("pre_tokenizer", Map.of("type", "Whitespace"));
    root.put("post_processor", postProcessor);
    root.put("decoder", null);
    root.put("model", Map.of("type", "WordLevel", "vocab", vocab, "unk_token", "<unk>"));
    return new ObjectMapper().writeValueAsString(root);
  }
}
