package dev.tessera.model.encoder;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Add;
import dev.tessera.engine.ops.Attention;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.BidirectionalAttention;
import dev.tessera.engine.ops.Gelu;
import dev.tessera.engine.ops.GeluErf;
import dev.tessera.engine.ops.LayerNorm;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.engine.ops.QuickGelu;
import dev.tessera.model.Parameters;
import java.util.Arrays;
import java.util.List;

/**
 * The pre-norm transformer encoder of SigLIP and CLIP ({@code SiglipEncoder}, {@code CLIPEncoder}:
 * the same layers), used by their vision and text towers, forward only:
 *
 * <pre>{@code
 * per layer: h = layernorm1(x); q,k,v = h Wq+bq, h Wk+bk, h Wv+bv
 *            x = x + attention(q, k, v) Wout + bout        (bidirectional, or causal for CLIP text)
 *            h = layernorm2(x); x = x + act(h Wfc1 + b1) Wfc2 + b2
 * }</pre>
 *
 * {@code act} is the configuration's {@code hidden_act} ({@link Activation}). Weights under {@code
 * PREFIX.N.layer_norm1.weight}, {@code PREFIX.N.self_attn.q_proj.weight}, ... as Hugging Face names
 * them ({@code vision_model.encoder.layers}, {@code text_model.encoder.layers}).
 */
public final class PreNormEncoder {
  /** The MLP activations a {@code hidden_act} may name, by their Hugging Face names. */
  public enum Activation {
    /** {@link Gelu}: SigLIP's {@code gelu_pytorch_tanh}. */
    GELU_TANH(List.of("gelu_pytorch_tanh", "gelu_new", "gelu_fast")),
    /** {@link GeluErf}: {@code nn.GELU()}, what OpenCLIP-trained towers (LAION, DFN) use. */
    GELU_ERF(List.of("gelu")),
    /** {@link QuickGelu}: OpenAI CLIP's {@code x sigmoid(1.702 x)}. */
    QUICK_GELU(List.of("quick_gelu"));

    private final List<String> names;

    Activation(List<String> names) {
      this.names = names;
    }

    /** The activation {@code hiddenAct} names; an error listing the supported names otherwise. */
    public static Activation of(String hiddenAct) {
      for (Activation activation : values()) {
        if (activation.names.contains(hiddenAct)) {
          return activation;
        }
      }
      throw new IllegalArgumentException(
          "hidden_act '"
              + hiddenAct
              + "' is not supported: the encoder computes "
              + String.join(
                  ", ", Arrays.stream(values()).flatMap(a -> a.names.stream()).sorted().toList()));
    }

    /** {@code out = act(inp)} in place or not. */
    public void forward(Tensor out, Tensor inp) {
      switch (this) {
        case GELU_TANH -> Gelu.forward(out, inp);
        case GELU_ERF -> GeluErf.forward(out, inp);
        case QUICK_GELU -> QuickGelu.forward(out, inp);
      }
    }
  }

  private final Backend backend;
  private final Layer[] layers;
  private final int hidden;
  private final int heads;
  private final int inner;
  private final float eps;
  private final Activation activation;
  private final boolean causal;

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

  /**
   * @param hiddenAct the MLP's activation by its Hugging Face name ({@link Activation#of})
   * @param causal each position attends to itself and earlier ones only (CLIP's text tower)
   */
  public PreNormEncoder(
      Backend backend,
      Parameters parameters,
      String prefix,
      int numLayers,
      int hidden,
      int heads,
      int inner,
      double eps,
      String hiddenAct,
      boolean causal) {
    this.activation = Activation.of(hiddenAct);
    this.causal = causal;
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

  public int numLayers() {
    return layers.length;
  }

  /** Runs the first {@code numLayers} layers over {@code x} [B, T, hidden], in place. */
  public void forward(Tensor x, int numLayers) {
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
    Tensor lse = causal ? backend.zeros(batch, heads, tokens) : null;
    for (int l = 0; l < numLayers; l++) {
      Layer layer = layers[l];
      // x = x + out_proj(attention(layer_norm1(x)))
      LayerNorm.forward(h, mean, rstd, rows, layer.norm1(), layer.norm1Bias(), eps);
      Matmul.forward(q, h, layer.q(), layer.qBias());
      Matmul.forward(k, h, layer.k(), layer.kBias());
      Matmul.forward(v, h, layer.v(), layer.vBias());
      if (causal) {
        Attention.forward(
            attention.view(batch, tokens, heads, hd),
            lse,
            q.view(batch, tokens, heads, hd),
            k.view(batch, tokens, heads, hd),
            v.view(batch, tokens, heads, hd),
            AttentionMask.CONTINUOUS,
            null);
      } else {
        BidirectionalAttention.forward(
            attention.view(batch, tokens, heads, hd),
            q.view(batch, tokens, heads, hd),
            k.view(batch, tokens, heads, hd),
            v.view(batch, tokens, heads, hd));
      }
      Matmul.forward(projected, attention, layer.out(), layer.outBias());
      Add.forward(rows, rows, projected);
      // x = x + fc2(act(fc1(layer_norm2(x))))
      LayerNorm.forward(h, mean, rstd, rows, layer.norm2(), layer.norm2Bias(), eps);
      Matmul.forward(up, h, layer.fc1(), layer.fc1Bias());
      activation.forward(up, up);
      Matmul.forward(projected, up, layer.fc2(), layer.fc2Bias());
      Add.forward(rows, rows, projected);
    }
    backend.release(h, mean, rstd, q, k, v, attention, projected, up);
    if (lse != null) {
      backend.release(lse);
    }
  }

  /** {@code out = layernorm(x)} over rows of {@code hidden}: a final or post layernorm. */
  public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias) {
    int rows = Math.toIntExact(x.size() / hidden);
    Tensor out = backend.zeros(x.shape());
    Tensor mean = backend.zeros(rows);
    Tensor rstd = backend.zeros(rows);
    LayerNorm.forward(out.view(rows, hidden), mean, rstd, x.view(rows, hidden), weight, bias, eps);
    backend.release(mean, rstd);
    return out;
  }
}
