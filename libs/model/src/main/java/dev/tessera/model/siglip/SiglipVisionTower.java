package dev.tessera.model.siglip;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Add;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.encoder.Patches;
import dev.tessera.model.encoder.PreNormEncoder;

/**
 * The SigLIP vision tower (Hugging Face {@code SiglipVisionModel}), frozen: forward only, reading
 * top to bottom like the model:
 *
 * <pre>{@code
 * x = patches(pixels) Wpatch^T + bpatch + pos      (the stride-p convolution as a matmul)
 * per layer: h = layernorm1(x); q,k,v = h Wq+bq, h Wk+bk, h Wv+bv
 *            x = x + bidirectional_attention(q, k, v) Wout + bout
 *            h = layernorm2(x); x = x + gelu_tanh(h Wfc1 + b1) Wfc2 + b2
 * features        = x after layer L-2 (0-based): the second-to-last layer, what Open-Qwen2VL uses
 * lastHiddenState = post_layernorm(x after all L layers)
 * }</pre>
 *
 * Open-Qwen2VL (like Prismatic) takes timm's {@code get_intermediate_layers(n={L-2})}: the output
 * of the second-to-last block, without the post-layernorm or the attention-pooling head; {@link
 * #features} stops there and never runs the last layer. Parameters live in {@link Parameters} under
 * Hugging Face names ({@link ModelParameters#siglipVision}); the head, when present, gives {@link
 * #pooled}, the image embedding of a SigLIP image–text score.
 */
public final class SiglipVisionTower {
  private final SiglipVisionConfig config;
  private final Backend backend;
  private final Parameters parameters;
  private final Tensor patchWeight; // [hidden, C*p*p], the conv weight [hidden, C, p, p] flattened
  private final Tensor patchBias; // [hidden]
  private final Tensor positions; // [numPatches, hidden]
  private final PreNormEncoder encoder;
  private final Tensor postNorm;
  private final Tensor postNormBias;

  /** A tower with its own zero-filled parameter store; load or initialise it before use. */
  public SiglipVisionTower(Backend backend, SiglipVisionConfig config) {
    this(backend, config, new Parameters(backend, ModelParameters.siglipVision(config)));
  }

  /**
   * A tower reading its weights from {@code parameters}, a store laid out by {@link
   * ModelParameters#siglipVision} for {@code config} (with or without the head).
   */
  public SiglipVisionTower(Backend backend, SiglipVisionConfig config, Parameters parameters) {
    this.config = config;
    this.backend = backend;
    this.parameters = parameters;
    int hidden = config.hiddenSize();
    int p = config.patchSize();
    String e = "vision_model.embeddings.";
    this.patchWeight =
        parameters
            .value(e + "patch_embedding.weight")
            .requireShape(e + "patch_embedding.weight", hidden, config.numChannels(), p, p)
            .view(hidden, config.numChannels() * p * p);
    this.patchBias = parameters.value(e + "patch_embedding.bias");
    this.positions =
        parameters
            .value(e + "position_embedding.weight")
            .requireShape(e + "position_embedding.weight", config.numPatches(), hidden);
    this.encoder =
        new PreNormEncoder(
            backend,
            parameters,
            "vision_model.encoder.layers",
            config.numHiddenLayers(),
            hidden,
            config.numAttentionHeads(),
            config.intermediateSize(),
            config.layerNormEps(),
            config.hiddenAct(),
            false);
    this.postNorm = parameters.value("vision_model.post_layernorm.weight");
    this.postNormBias = parameters.value("vision_model.post_layernorm.bias");
  }

  public SiglipVisionConfig config() {
    return config;
  }

  public Parameters parameters() {
    return parameters;
  }

  /** The 0-based encoder layer whose output {@link #features} returns: L - 2. */
  public int featureLayer() {
    return config.numHiddenLayers() - 2;
  }

  /**
   * Open-Qwen2VL's visual features: the hidden state after encoder layer L-2 (the second-to-last
   * layer), no post-layernorm, no head. The last layer is not run.
   *
   * @param pixels [B, C, S, S] normalised pixel values ({@link SiglipImageProcessor}), S the
   *     configured image size
   * @return [B, numPatches, hidden], patches in row-major grid order
   */
  public Tensor features(Tensor pixels) {
    if (config.numHiddenLayers() < 2) {
      throw new IllegalStateException(
          "the second-to-last layer needs at least 2 encoder layers, the config has "
              + config.numHiddenLayers());
    }
    return hiddenState(pixels, featureLayer() + 1);
  }

  /**
   * {@code SiglipVisionModel}'s {@code last_hidden_state}: all L layers, then the post-layernorm.
   *
   * @param pixels [B, C, S, S]
   * @return [B, numPatches, hidden]
   */
  public Tensor lastHiddenState(Tensor pixels) {
    Tensor x = hiddenState(pixels, encoder.numLayers());
    Tensor out = encoder.layerNorm(x, postNorm, postNormBias);
    backend.release(x);
    return out;
  }

  /**
   * {@code SiglipVisionModel}'s {@code pooler_output}, the image embedding SigLIP compares with the
   * text's: the last hidden state pooled by the attention head — a learned probe attends over the
   * patches ({@code nn.MultiheadAttention}, one query), then {@code x + mlp(layernorm(x))}.
   *
   * <p>The probe's one query per head makes the attention a handful of dot products per patch,
   * computed on the host from the keys and values the backend projects; everything else runs on the
   * backend.
   *
   * @param pixels [B, C, S, S]
   * @return [B, hidden]
   */
  public Tensor pooled(Tensor pixels) {
    if (!config.useHead()) {
      throw new IllegalStateException(
          "this tower has no attention-pooling head (vision_use_head is false)");
    }
    Tensor last = lastHiddenState(pixels);
    int batch = last.dim(0);
    int tokens = last.dim(1);
    int d = config.hiddenSize();
    int heads = config.numAttentionHeads();
    int hd = config.headDim();
    String head = "vision_model.head.";
    Tensor inWeight = parameters.value(head + "attention.in_proj_weight");
    Tensor inBias = parameters.value(head + "attention.in_proj_bias");
    long square = (long) d * d;
    // nn.MultiheadAttention packs q, k, v projections as the rows of one [3d, d] matrix.
    Tensor q = backend.zeros(1, d);
    Matmul.forward(
        q,
        parameters.value(head + "probe").view(1, d),
        inWeight.slice(0, d, d),
        inBias.slice(0, d));
    Tensor k = backend.zeros(batch * tokens, d);
    Tensor v = backend.zeros(batch * tokens, d);
    Tensor rows = last.view(batch * tokens, d);
    Matmul.forward(k, rows, inWeight.slice(square, d, d), inBias.slice(d, d));
    Matmul.forward(v, rows, inWeight.slice(2 * square, d, d), inBias.slice(2L * d, d));
    float[] query = backend.toHost(q);
    float[] keys = backend.toHost(k);
    float[] values = backend.toHost(v);
    backend.release(last, q, k, v);
    float[] attended = new float[batch * d];
    double[] scores = new double[tokens];
    double scale = 1.0 / Math.sqrt(hd);
    for (int b = 0; b < batch; b++) {
      for (int h = 0; h < heads; h++) {
        int column = h * hd;
        double max = Double.NEGATIVE_INFINITY;
        for (int t = 0; t < tokens; t++) {
          int at = (b * tokens + t) * d + column;
          double dot = 0;
          for (int j = 0; j < hd; j++) {
            dot += (double) query[column + j] * keys[at + j];
          }
          scores[t] = dot * scale;
          max = Math.max(max, scores[t]);
        }
        double sum = 0;
        for (int t = 0; t < tokens; t++) {
          scores[t] = Math.exp(scores[t] - max);
          sum += scores[t];
        }
        for (int j = 0; j < hd; j++) {
          double acc = 0;
          for (int t = 0; t < tokens; t++) {
            acc += scores[t] * values[(b * tokens + t) * d + column + j];
          }
          attended[b * d + column + j] = (float) (acc / sum);
        }
      }
    }
    Tensor x = backend.zeros(batch, d);
    Matmul.forward(
        x,
        backend.fromHost(attended, batch, d),
        parameters.value(head + "attention.out_proj.weight"),
        parameters.value(head + "attention.out_proj.bias"));
    // x = x + fc2(act(fc1(layernorm(x))))
    Tensor normed =
        encoder.layerNorm(
            x,
            parameters.value(head + "layernorm.weight"),
            parameters.value(head + "layernorm.bias"));
    Tensor up = backend.zeros(batch, config.intermediateSize());
    Matmul.forward(
        up,
        normed,
        parameters.value(head + "mlp.fc1.weight"),
        parameters.value(head + "mlp.fc1.bias"));
    PreNormEncoder.Activation.of(config.hiddenAct()).forward(up, up);
    Tensor mlp = backend.zeros(batch, d);
    Matmul.forward(
        mlp,
        up,
        parameters.value(head + "mlp.fc2.weight"),
        parameters.value(head + "mlp.fc2.bias"));
    Add.forward(x, x, mlp);
    backend.release(normed, up, mlp);
    return x;
  }

  /**
   * The residual stream after the first {@code numLayers} encoder layers (0: the embeddings; no
   * post-layernorm): Hugging Face's {@code hidden_states[numLayers]}.
   *
   * @param pixels [B, C, S, S]
   * @return [B, numPatches, hidden]
   */
  public Tensor hiddenState(Tensor pixels, int numLayers) {
    if (numLayers < 0 || numLayers > encoder.numLayers()) {
      throw new IllegalArgumentException(
          "numLayers " + numLayers + " is outside [0, " + encoder.numLayers() + "]");
    }
    int batch = Patches.requirePixels(pixels, config.numChannels(), config.imageSize());
    int tokens = config.numPatches();
    int hidden = config.hiddenSize();
    // Patch embedding: the stride-p convolution as patches [N, C*p*p] times the weight, plus the
    // position embedding of each patch.
    Tensor x = backend.zeros(batch, tokens, hidden);
    Matmul.forward(
        x.view(batch * tokens, hidden),
        Patches.extract(
            backend, pixels, config.numChannels(), config.imageSize(), config.patchSize()),
        patchWeight,
        patchBias);
    for (int b = 0; b < batch; b++) {
      Tensor image = x.get(b);
      Add.forward(image, image, positions);
    }
    encoder.forward(x, numLayers);
    return x;
  }
}
