package dev.tessera.model.config;

import java.util.ArrayList;
import java.util.List;

/**
 * The tensors (Hugging Face names and shapes) that a configuration implies, as {@code
 * Qwen2ForCausalLM} and {@code SiglipVisionModel} name them in their safetensors checkpoints.
 * Linear weights are {@code [out, in]}.
 */
public final class ModelParameters {
  private ModelParameters() {}

  /**
   * A Qwen2 causal LM: token embedding, per layer q/k/v projections with bias, o_proj without,
   * SwiGLU MLP and two RMSNorms, the final norm, and {@code lm_head} unless tied to the embedding.
   */
  public static ParameterSet qwen2(Qwen2Config config) {
    int hidden = config.hiddenSize();
    int kv = config.kvDim();
    int inner = config.intermediateSize();
    List<ParameterSpec> specs = new ArrayList<>();
    specs.add(
        new ParameterSpec(
            "embed_tokens", "model.embed_tokens.weight", new int[] {config.vocabSize(), hidden}));
    for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
      String prefix = "model.layers." + layer + ".";
      specs.add(layers(prefix + "self_attn.q_proj.weight", hidden, hidden));
      specs.add(layers(prefix + "self_attn.q_proj.bias", hidden));
      specs.add(layers(prefix + "self_attn.k_proj.weight", kv, hidden));
      specs.add(layers(prefix + "self_attn.k_proj.bias", kv));
      specs.add(layers(prefix + "self_attn.v_proj.weight", kv, hidden));
      specs.add(layers(prefix + "self_attn.v_proj.bias", kv));
      specs.add(layers(prefix + "self_attn.o_proj.weight", hidden, hidden));
      specs.add(layers(prefix + "mlp.gate_proj.weight", inner, hidden));
      specs.add(layers(prefix + "mlp.up_proj.weight", inner, hidden));
      specs.add(layers(prefix + "mlp.down_proj.weight", hidden, inner));
      specs.add(layers(prefix + "input_layernorm.weight", hidden));
      specs.add(layers(prefix + "post_attention_layernorm.weight", hidden));
    }
    specs.add(new ParameterSpec("norm", "model.norm.weight", new int[] {hidden}));
    if (!config.tieWordEmbeddings()) {
      specs.add(
          new ParameterSpec("lm_head", "lm_head.weight", new int[] {config.vocabSize(), hidden}));
    }
    return new ParameterSet("qwen2", specs);
  }

  /**
   * A SigLIP vision tower ({@code SiglipVisionModel}): patch and position embeddings, pre-norm
   * encoder layers, the post-layernorm, and — when {@link SiglipVisionConfig#useHead()} — the
   * multihead attention-pooling head (probe, {@code nn.MultiheadAttention} with packed {@code
   * in_proj}, layernorm, MLP).
   */
  public static ParameterSet siglipVision(SiglipVisionConfig config) {
    int hidden = config.hiddenSize();
    int inner = config.intermediateSize();
    int patch = config.patchSize();
    List<ParameterSpec> specs = new ArrayList<>();
    String embeddings = "vision_model.embeddings.";
    specs.add(
        new ParameterSpec(
            "embeddings",
            embeddings + "patch_embedding.weight",
            new int[] {hidden, config.numChannels(), patch, patch}));
    specs.add(
        new ParameterSpec("embeddings", embeddings + "patch_embedding.bias", new int[] {hidden}));
    specs.add(
        new ParameterSpec(
            "embeddings",
            embeddings + "position_embedding.weight",
            new int[] {config.numPatches(), hidden}));
    encoderLayers(specs, "vision_model.encoder.layers.", config.numHiddenLayers(), hidden, inner);
    layerNorm(specs, "post_layernorm", "vision_model.post_layernorm", hidden);
    if (config.useHead()) {
      String head = "vision_model.head.";
      specs.add(new ParameterSpec("head", head + "probe", new int[] {1, 1, hidden}));
      specs.add(
          new ParameterSpec(
              "head", head + "attention.in_proj_weight", new int[] {3 * hidden, hidden}));
      specs.add(new ParameterSpec("head", head + "attention.in_proj_bias", new int[] {3 * hidden}));
      linear(specs, "head", head + "attention.out_proj", hidden, hidden);
      layerNorm(specs, "head", head + "layernorm", hidden);
      linear(specs, "head", head + "mlp.fc1", inner, hidden);
      linear(specs, "head", head + "mlp.fc2", hidden, inner);
    }
    return new ParameterSet("siglip_vision", specs);
  }

  /**
   * A SigLIP text tower ({@code SiglipTextModel}): token and position embeddings, the same pre-norm
   * encoder layers as the vision tower, the final layernorm, and the head that projects the last
   * token to the text embedding.
   */
  public static ParameterSet siglipText(SiglipTextConfig config) {
    int hidden = config.hiddenSize();
    List<ParameterSpec> specs = new ArrayList<>();
    textEmbeddings(specs, config.vocabSize(), config.maxPositionEmbeddings(), hidden);
    encoderLayers(
        specs,
        "text_model.encoder.layers.",
        config.numHiddenLayers(),
        hidden,
        config.intermediateSize());
    layerNorm(specs, "final_layer_norm", "text_model.final_layer_norm", hidden);
    linear(specs, "head", "text_model.head", config.projectionSize(), hidden);
    return new ParameterSet("siglip_text", specs);
  }

  /**
   * A CLIP vision tower and its projection ({@code CLIPModel}'s {@code vision_model.*} and {@code
   * visual_projection}): class token, patch embedding without bias, positions for the class token
   * and the patches, the pre-layernorm (Hugging Face spells it {@code pre_layrnorm}), the encoder
   * layers, the post-layernorm, and with {@code projection} the projection without bias ({@code
   * CLIPVisionModel}, the tower LLaVA-style models hold, has none).
   */
  public static ParameterSet clipVision(ClipConfig config, boolean projection) {
    ClipConfig.Vision vision = config.vision();
    int hidden = vision.hiddenSize();
    int patch = vision.patchSize();
    List<ParameterSpec> specs = new ArrayList<>();
    String embeddings = "vision_model.embeddings.";
    specs.add(new ParameterSpec("embeddings", embeddings + "class_embedding", new int[] {hidden}));
    specs.add(
        new ParameterSpec(
            "embeddings",
            embeddings + "patch_embedding.weight",
            new int[] {hidden, vision.numChannels(), patch, patch}));
    specs.add(
        new ParameterSpec(
            "embeddings",
            embeddings + "position_embedding.weight",
            new int[] {vision.numPatches() + 1, hidden}));
    layerNorm(specs, "pre_layrnorm", "vision_model.pre_layrnorm", hidden);
    encoderLayers(
        specs,
        "vision_model.encoder.layers.",
        vision.numHiddenLayers(),
        hidden,
        vision.intermediateSize());
    layerNorm(specs, "post_layernorm", "vision_model.post_layernorm", hidden);
    if (projection) {
      specs.add(
          new ParameterSpec(
              "projection",
              "visual_projection.weight",
              new int[] {config.projectionDim(), hidden}));
    }
    return new ParameterSet("clip_vision", specs);
  }

  /**
   * A CLIP text tower and its projection ({@code text_model.*}, {@code text_projection}): token and
   * position embeddings, the encoder layers, the final layernorm, the projection without bias.
   */
  public static ParameterSet clipText(ClipConfig config) {
    ClipConfig.Text text = config.text();
    int hidden = text.hiddenSize();
    List<ParameterSpec> specs = new ArrayList<>();
    textEmbeddings(specs, text.vocabSize(), text.maxPositionEmbeddings(), hidden);
    encoderLayers(
        specs,
        "text_model.encoder.layers.",
        text.numHiddenLayers(),
        hidden,
        text.intermediateSize());
    layerNorm(specs, "final_layer_norm", "text_model.final_layer_norm", hidden);
    specs.add(
        new ParameterSpec(
            "projection", "text_projection.weight", new int[] {config.projectionDim(), hidden}));
    return new ParameterSet("clip_text", specs);
  }

  /** A text tower's token and position embeddings ({@code text_model.embeddings.*}). */
  private static void textEmbeddings(
      List<ParameterSpec> specs, int vocab, int positions, int hidden) {
    String embeddings = "text_model.embeddings.";
    specs.add(
        new ParameterSpec(
            "embeddings", embeddings + "token_embedding.weight", new int[] {vocab, hidden}));
    specs.add(
        new ParameterSpec(
            "embeddings", embeddings + "position_embedding.weight", new int[] {positions, hidden}));
  }

  /** The weights of SigLIP and CLIP encoder layers under {@code prefix + N + "."}. */
  private static void encoderLayers(
      List<ParameterSpec> specs, String prefix, int layers, int hidden, int inner) {
    for (int layer = 0; layer < layers; layer++) {
      String p = prefix + layer + ".";
      layerNorm(specs, "encoder", p + "layer_norm1", hidden);
      for (String projection : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
        linear(specs, "encoder", p + "self_attn." + projection, hidden, hidden);
      }
      layerNorm(specs, "encoder", p + "layer_norm2", hidden);
      linear(specs, "encoder", p + "mlp.fc1", inner, hidden);
      linear(specs, "encoder", p + "mlp.fc2", hidden, inner);
    }
  }

  private static ParameterSpec layers(String name, int... shape) {
    return new ParameterSpec("layers", name, shape);
  }

  private static void linear(
      List<ParameterSpec> specs, String component, String prefix, int out, int in) {
    specs.add(new ParameterSpec(component, prefix + ".weight", new int[] {out, in}));
    specs.add(new ParameterSpec(component, prefix + ".bias", new int[] {out}));
  }

  private static void layerNorm(
      List<ParameterSpec> specs, String component, String prefix, int width) {
    specs.add(new ParameterSpec(component, prefix + ".weight", new int[] {width}));
    specs.add(new ParameterSpec(component, prefix + ".bias", new int[] {width}));
  }

  /**
   * The Open-Qwen2VL projector: {@code nn.Sequential(Linear(vision, llm), GELU(), Linear(llm,
   * llm))}, named as that module's state dict ({@code projector.0.*}, {@code projector.2.*}).
   */
  public static ParameterSet projector(int visionHidden, int llmHidden) {
    List<ParameterSpec> specs = new ArrayList<>();
    specs.add(
        new ParameterSpec("projector", "projector.0.weight", new int[] {llmHidden, visionHidden}));
    specs.add(new ParameterSpec("projector", "projector.0.bias", new int[] {llmHidden}));
    specs.add(
        new ParameterSpec("projector", "projector.2.weight", new int[] {llmHidden, llmHidden}));
    specs.add(new ParameterSpec("projector", "projector.2.bias", new int[] {llmHidden}));
    return new ParameterSet("projector", specs);
  }
}
