package dev.tessera.model.siglip;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Add;
import dev.tessera.engine.ops.BidirectionalAttention;
import dev.tessera.engine.ops.Gelu;
import dev.tessera.engine.ops.LayerNorm;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.model.Parameters;
import java.util.Set;

/**
 * SigLIP's pre-norm transformer encoder ({@code SiglipEncoder}), shared by the vision and the text
 * tower, forward only and without a mask:
 *
 * <pre>{@code
 * per layer: h = layernorm1(x); q,k,v = h Wq+bq, h Wk+bk, h Wv+bv
 *            x = x + bidirectional_attention(q, k, v) Wout + bout
 *            h = layernorm2(x); x = x + gelu_tanh(h Wfc1 + b1) Wfc2 + b2
 * }</pre>
 *
 * Weights under {@code PREFIX.N.layer_norm1.weight}, {@code PREFIX.N.self_attn.q_proj.weight}, ...
 * as Hugging Face names them ({@code vision_model.encoder.layers}, {@code
 * text_model.encoder.layers}).
 */
final class SiglipEncoder {
  /** Activations computed by the engine's tanh-approximated GELU. */
  static final Set<String> TANH_GELU = Set.of("gelu_pytorch_tanh", "gelu_new", "gelu_fast");

  private final Backend backend;
  private final Layer[] layers;
  private final int hidden;
  private final int heads;
  private final int inner;
  private final float eps;

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

  SiglipEncoder(
      Backend backend,
      Parameters parameters,
      String prefix,
      int numLayers,
      int hidden,
      int heads,
      int inner,
      double eps,
      String hiddenAct) {
    requireTanhGelu(hiddenAct);
    this.backend = backend;
    this.hidden = hidden;
    this.heads = heads;
    this.inner = inner;
    this.eps = (float) eps;
    this.layers = new Layer[numLayers];
    for (int l = 0; l < numLayers; l++) {
      String p = prefix + "." + l + ".";
      layers[l] =
          new Layer(
              parameters.value(p + "layer_norm1.weight"),
              parameters.value(p + "layer_norm1.bias"),
              parameters.value(p + "self_attn.q_proj.weight"),
              parameters.value(p + "self_attn.q_proj.bias"),
              parameters.value(p + "self_attn.k_proj.weight"),
              parameters.value(p + "self_attn.k_proj.bias"),
              parameters.value(p + "self_attn.v_proj.weight"),
              parameters.value(p + "self_attn.v_proj.bias"),
              parameters.value(p + "self_attn.out_proj.weight"),
              parameters.value(p + "self_attn.out_proj.bias"),
              parameters.value(p + "layer_norm2.weight"),
              parameters.value(p + "layer_norm2.bias"),
              parameters.value(p + "mlp.fc1.weight"),
              parameters.value(p + "mlp.fc1.bias"),
              parameters.value(p + "mlp.fc2.weight"),
              parameters.value(p + "mlp.fc2.bias"));
    }
  }

  /** Refuses activations other than the tanh-approximated GELU the engine computes. */
  static void requireTanhGelu(String hiddenAct) {
    if (!TANH_GELU.contains(hiddenAct)) {
      throw new IllegalArgumentException(
          "hidden_act '"
              + hiddenAct
              + "' is not supported: the tower computes the tanh-approximated GELU ("
              + String.join(", ", TANH_GELU.stream().sorted().toList())
              + ")");
    }
  }

  int numLayers() {
    return layers.length;
  }

  /** Runs the first {@code numLayers} layers over {@code x} [B, T, hidden], in place. */
  void forward(Tensor x, int numLayers) {
    if (numLayers < 0 || numLayers > layers.length) {
      throw new IllegalArgumentException(
          "numLayers " + numLayers + " is outside [0, " + layers.length + "]");
    }
    int batch = x.dim(0);
    int tokens = x.dim(1);
    int n = batch * tokens;
    int hd = hidden / heads;
    Tensor rows = x.view(n, hidden);
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
    backend.release(h, mean, rstd, q, k, v, attention, projected, up);
  }

  /** {@code out = layernorm(x)} over rows of {@code hidden}: a final or post layernorm. */
  Tensor layerNorm(Tensor x, Tensor weight, Tensor bias) {
    int rows = Math.toIntExact(x.size() / hidden);
    Tensor out = backend.zeros(x.shape());
    Tensor mean = backend.zeros(rows);
    Tensor rstd = backend.zeros(rows);
    LayerNorm.forward(out.view(rows, hidden), mean, rstd, x.view(rows, hidden), weight, bias, eps);
    backend.release(mean, rstd);
    return out;
  }
}
