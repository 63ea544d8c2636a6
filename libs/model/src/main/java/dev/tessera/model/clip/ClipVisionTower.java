package dev.tessera.model.clip;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Add;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ClipConfig;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.encoder.Patches;
import dev.tessera.model.encoder.PreNormEncoder;

/**
 * The CLIP vision tower with its projection (Hugging Face {@code CLIPVisionTransformer} and {@code
 * CLIPModel.visual_projection}), frozen: forward only.
 *
 * <pre>{@code
 * x = [class_embedding; patches(pixels) Wpatch^T] + pos     (no bias; the class token first)
 * x = encoder(pre_layrnorm(x))                                (bidirectional)
 * image_embeds = post_layernorm(x[:, 0]) Wproj^T              (the class token; no bias)
 * }</pre>
 */
public final class ClipVisionTower {
  private final ClipConfig config;
  private final Backend backend;
  private final Parameters parameters;
  private final PreNormEncoder encoder;

  /** A tower reading its weights from a store laid out by {@link ModelParameters#clipVision}. */
  public ClipVisionTower(Backend backend, ClipConfig config, Parameters parameters) {
    ClipConfig.Vision vision = config.vision();
    this.config = config;
    this.backend = backend;
    this.parameters = parameters;
    this.encoder =
        new PreNormEncoder(
            backend,
            parameters,
            "vision_model.encoder.layers",
            vision.numHiddenLayers(),
            vision.hiddenSize(),
            vision.numAttentionHeads(),
            vision.intermediateSize(),
            vision.layerNormEps(),
            vision.hiddenAct(),
            false);
  }

  /** A tower with its own zero-filled parameter store; load or initialise it before use. */
  public ClipVisionTower(Backend backend, ClipConfig config) {
    this(backend, config, new Parameters(backend, ModelParameters.clipVision(config, true)));
  }

  public ClipConfig config() {
    return config;
  }

  public Parameters parameters() {
    return parameters;
  }

  /**
   * {@code CLIPVisionModel}'s {@code hidden_states[numLayers]}: the class token and the patches
   * after the pre-layernorm and the first {@code numLayers} encoder layers (0: the normalised
   * embeddings) — what LLaVA-style models read their image features from.
   *
   * @param pixels [B, C, S, S] ({@link ClipImageProcessor})
   * @return [B, 1 + numPatches, hidden], the class token first
   */
  public Tensor hiddenState(Tensor pixels, int numLayers) {
    if (numLayers < 0 || numLayers > encoder.numLayers()) {
      throw new IllegalArgumentException(
          "numLayers " + numLayers + " is outside [0, " + encoder.numLayers() + "]");
    }
    ClipConfig.Vision vision = config.vision();
    int batch = Patches.requirePixels(pixels, vision.numChannels(), vision.imageSize());
    int patches = vision.numPatches();
    int tokens = patches + 1;
    int hidden = vision.hiddenSize();
    String e = "vision_model.embeddings.";
    Tensor weight =
        parameters
            .value(e + "patch_embedding.weight")
            .view(hidden, vision.numChannels() * vision.patchSize() * vision.patchSize());
    Tensor flat =
        Patches.extract(
            backend, pixels, vision.numChannels(), vision.imageSize(), vision.patchSize());
    Tensor embedded = backend.zeros(batch, patches, hidden);
    Matmul.forward(embedded.view(batch * patches, hidden), flat, weight, null);
    Tensor x = backend.zeros(batch, tokens, hidden);
    Tensor classToken = parameters.value(e + "class_embedding");
    Tensor positions = parameters.value(e + "position_embedding.weight");
    for (int b = 0; b < batch; b++) {
      Tensor image = x.get(b);
      backend.copy(classToken, image.slice(0, hidden));
      backend.copy(embedded.get(b), image.slice(hidden, patches, hidden));
      Add.forward(image, image, positions);
    }
    backend.release(flat, embedded);
    Tensor normed =
        encoder.layerNorm(
            x,
            parameters.value("vision_model.pre_layrnorm.weight"),
            parameters.value("vision_model.pre_layrnorm.bias"));
    backend.release(x);
    encoder.forward(normed, numLayers);
    return normed;
  }

  /**
   * {@code CLIPModel.get_image_features}: the projected class token of each image.
   *
   * @param pixels [B, C, S, S] ({@link ClipImageProcessor})
   * @return [B, projectionDim]
   */
  public Tensor embed(Tensor pixels) {
    if (!parameters.names().contains("visual_projection.weight")) {
      throw new IllegalStateException("this tower has no visual_projection (a vision-only tower)");
    }
    int hidden = config.vision().hiddenSize();
    Tensor states = hiddenState(pixels, encoder.numLayers());
    int batch = states.dim(0);
    Tensor classTokens = backend.zeros(batch, hidden);
    for (int b = 0; b < batch; b++) {
      backend.copy(states.get(b).slice(0, hidden), classTokens.get(b));
    }
    backend.release(states);
    Tensor pooled =
        encoder.layerNorm(
            classTokens,
            parameters.value("vision_model.post_layernorm.weight"),
            parameters.value("vision_model.post_layernorm.bias"));
    Tensor out = backend.zeros(batch, config.projectionDim());
    Matmul.forward(out, pooled, parameters.value("visual_projection.weight"), null);
    backend.release(classTokens, pooled);
    return out;
  }
}
