package dev.tessera.model.siglip;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Add;
import dev.tessera.engine.ops.BidirectionalAttention;
import dev.tessera.engine.ops.Gelu;
import dev.tessera.engine.ops.LayerNorm;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.SiglipVisionConfig;
import java.util.Arrays;
import java.util.Set;

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
 * Hugging Face names ({@link ModelParameters#siglipVision}); the head, when present, is loaded but
 * unused.
 */
public final class SiglipVisionTower {
  /** Activations computed by the engine's tanh-approximated GELU. */
  private static final Set<String> TANH_GELU = Set.of("gelu_pytorch_tanh", "gelu_new", "gelu_fast");

  private final SiglipVisionConfig config;
  private final Backend backend;
  private final Parameters parameters;
  private final Tensor patchWeight; // [hidden, C*p*p], the conv weight [hidden, C, p, p] flattened
  private final Tensor patchBias; // [hidden]
  private final Tensor positions; // [numPatches, hidden]
  private final Layer[] layers;
  private final Tensor postNorm;
  private final Tensor postNormBias;

  /** The named weights of one encoder layer. */
  private record Layer(
      Tensor norm1,
      Tensor norm1Bias,
      Tensor q,
      Tensor qBias,
      Tensor k,
      Tensor kBias,
      Tensor v,
      Tensor vBias,
      Tensor out,
      Tensor outBias,
      Tensor norm2,
      Tensor norm2Bias,
      Tensor fc1,
      Tensor fc1Bias,
      Tensor fc2,
      Tensor fc2Bias) {}

  /** A tower with its own zero-filled parameter store; load or initialise it before use. */
  public SiglipVisionTower(Backend backend, SiglipVisionConfig config) {
    this(backend, config, new Parameters(backend, ModelParameters.siglipVision(config)));
  }

  /**
   * A tower reading its weights from {@code parameters}, a store laid out by {@link
   * ModelParameters#siglipVision} for {@code config} (with or without the head).
   */
  public SiglipVisionTower(Backend backend, SiglipVisionConfig config, Parameters parameters) {
    if (!TANH_GELU.contains(config.hiddenAct())) {
      throw new IllegalArgumentException(
          "hidden_act '"
              + config.hiddenAct()
              + "' is not supported: the tower computes the tanh-approximated GELU ("
              + String.join(", ", TANH_GELU.stream().sorted().toList())
              + ")");
    }
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
    this.layers = new Layer[config.numHiddenLayers()];
    for (int l = 0; l < layers.length; l++) {
      String prefix = "vision_model.encoder.layers." + l + ".";
      layers[l] =
          new Layer(
              parameters.value(prefix + "layer_norm1.weight"),
              parameters.value(prefix + "layer_norm1.bias"),
              parameters.value(prefix + "self_attn.q_proj.weight"),
              parameters.value(prefix + "self_attn.q_proj.bias"),
              parameters.value(prefix + "self_attn.k_proj.weight"),
              parameters.value(prefix + "self_attn.k_proj.bias"),
              parameters.value(prefix + "self_attn.v_proj.weight"),
              parameters.value(prefix + "self_attn.v_proj.bias"),
              parameters.value(prefix + "self_attn.out_proj.weight"),
              parameters.value(prefix + "self_attn.out_proj.bias"),
              parameters.value(prefix + "layer_norm2.weight"),
              parameters.value(prefix + "layer_norm2.bias"),
              parameters.value(prefix + "mlp.fc1.weight"),
              parameters.value(prefix + "mlp.fc1.bias"),
              parameters.value(prefix + "mlp.fc2.weight"),
              parameters.value(prefix + "mlp.fc2.bias"));
    }
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
    Tensor x = hiddenState(pixels, layers.length);
    int rows = x.dim(0) * x.dim(1);
    Tensor out = backend.zeros(x.shape());
    LayerNorm.forward(
        out.view(rows, config.hiddenSize()),
        backend.zeros(rows),
        backend.zeros(rows),
        x.view(rows, config.hiddenSize()),
        postNorm,
        postNormBias,
        (float) config.layerNormEps());
    return out;
  }

  /**
   * The residual stream after the first {@code numLayers} encoder layers (0: the embeddings; no
   * post-layernorm): Hugging Face's {@code hidden_states[numLayers]}.
   *
   * @param pixels [B, C, S, S]
   * @return [B, numPatches, hidden]
   */
  public Tensor hiddenState(Tensor pixels, int numLayers) {
    if (numLayers < 0 || numLayers > layers.length) {
      throw new IllegalArgumentException(
          "numLayers " + numLayers + " is outside [0, " + layers.length + "]");
    }
    int batch = requirePixels(pixels);
    int tokens = config.numPatches();
    int n = batch * tokens;
    int hidden = config.hiddenSize();
    int heads = config.numAttentionHeads();
    int hd = config.headDim();
    int inner = config.intermediateSize();
    float eps = (float) config.layerNormEps();

    // Patch embedding: the stride-p convolution as patches [N, C*p*p] times the weight, plus the
    // position embedding of each patch.
    Tensor x = backend.zeros(batch, tokens, hidden);
    Tensor rows = x.view(n, hidden);
    Matmul.forward(rows, patches(pixels, batch), patchWeight, patchBias);
    for (int b = 0; b < batch; b++) {
      Tensor image = x.get(b);
      Add.forward(image, image, positions);
    }

    // Scratch shared by the layers.
    Tensor h = backend.zeros(n, hidden);
    Tensor mean = backend.zeros(n);
    Tensor rstd = backend.zeros(n);
    Tensor q = backend.zeros(n, hidden);
    Tensor k = backend.zeros(n, hidden);
    Tensor v = backend.zeros(n, hidden);
    Tensor attention = backend.zeros(n, hidden);
    Tensor projected = backend.zeros(n, hidden);
    Tensor up = backend.zeros(n, inner);
    for (int l = 0; l < numLayers; l++) {
      Layer layer = layers[l];
      // x = x + out_proj(attention(layer_norm1(x)))
      LayerNorm.forward(h, mean, rstd, rows, layer.norm1(), layer.norm1Bias(), eps);
      Matmul.forward(q, h, layer.q(), layer.qBias());
      Matmul.forward(k, h, layer.k(), layer.kBias());
      Matmul.forward(v, h, layer.v(), layer.vBias());
      BidirectionalAttention.forward(
          attention.view(batch, tokens, heads, hd),
          q.view(batch, tokens, heads, hd),
          k.view(batch, tokens, heads, hd),
          v.view(batch, tokens, heads, hd));
      Matmul.forward(projected, attention, layer.out(), layer.outBias());
      Add.forward(rows, rows, projected);
      // x = x + fc2(gelu_tanh(fc1(layer_norm2(x))))
      LayerNorm.forward(h, mean, rstd, rows, layer.norm2(), layer.norm2Bias(), eps);
      Matmul.forward(up, h, layer.fc1(), layer.fc1Bias());
      Gelu.forward(up, up);
      Matmul.forward(projected, up, layer.fc2(), layer.fc2Bias());
      Add.forward(rows, rows, projected);
    }
    return x;
  }

  /** Checks pixels are [B, C, S, S] for the configured C and S; returns B. */
  private int requirePixels(Tensor pixels) {
    int s = config.imageSize();
    if (pixels.rank() != 4
        || pixels.dim(1) != config.numChannels()
        || pixels.dim(2) != s
        || pixels.dim(3) != s
        || pixels.dim(0) == 0) {
      throw new IllegalArgumentException(
          "pixels have shape "
              + Arrays.toString(pixels.shape())
              + ", expected [B, "
              + config.numChannels()
              + ", "
              + s
              + ", "
              + s
              + "] with B >= 1");
    }
    return pixels.dim(0);
  }

  /**
   * The non-overlapping p x p patches of each image in row-major grid order, each flattened as (C,
   * p, p) like the convolution weight: [B * numPatches, C*p*p]. A remainder beyond the last full
   * patch (image size not a multiple of p) is dropped, as by the stride-p convolution.
   */
  private Tensor patches(Tensor pixels, int batch) {
    int c = config.numChannels();
    int s = config.imageSize();
    int p = config.patchSize();
    int side = config.patchesPerSide();
    int width = c * p * p;
    float[] in = backend.toHost(pixels);
    float[] out = new float[batch * side * side * width];
    for (int b = 0; b < batch; b++) {
      for (int py = 0; py < side; py++) {
        for (int px = 0; px < side; px++) {
          int o = ((b * side + py) * side + px) * width;
          for (int ch = 0; ch < c; ch++) {
            for (int ky = 0; ky < p; ky++) {
              int from = ((b * c + ch) * s + py * p + ky) * s + px * p;
              System.arraycopy(in, from, out, o, p);
              o += p;
            }
          }
        }
      }
    }
    return backend.fromHost(out, batch * side * side, width);
  }
}
