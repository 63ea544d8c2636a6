package dev.tessera.model.oracle;

import dev.tessera.engine.oracle.Torch;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRef;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * An independent Qwen2 decoder written with libtorch ops and autograd, following Hugging Face's
 * {@code Qwen2ForCausalLM}: the reference for Tessera's model — loss and every parameter gradient.
 *
 * <p>Inputs are explicit: token ids, a position per token (restarting per sample in document mode),
 * an attention mask (true = may attend), and per-position targets already shifted (the next token,
 * or -100 for no loss), so the same reference serves both masking modes.
 */
public final class TorchQwen2 {

  /** Sizes of the decoder. */
  public record Shape(
      int vocab,
      int hidden,
      int layers,
      int heads,
      int kvHeads,
      int intermediate,
      float rmsEps,
      double ropeTheta,
      boolean tied) {
    public int headDim() {
      return hidden / heads;
    }
  }

  private final Shape shape;
  private final Map<String, Tensor> parameters = new LinkedHashMap<>();
  private Tensor inputEmbedsParameter;
  // Position- and mask-dependent tensors kept across calls by fixInputs (benchmarks).
  private long[] fixedPositions;
  private boolean[][][] fixedAllowed;
  private Tensor[] fixedCosSin;
  private Tensor fixedBias;

  /** The sizes of a Qwen2 configuration. */
  public static Shape shapeOf(dev.tessera.model.config.Qwen2Config config) {
    return new Shape(
        config.vocabSize(),
        config.hiddenSize(),
        config.numHiddenLayers(),
        config.numAttentionHeads(),
        config.numKeyValueHeads(),
        config.intermediateSize(),
        (float) config.rmsNormEps(),
        config.ropeTheta(),
        config.tieWordEmbeddings());
  }

  /** A reference holding copies of a Tessera decoder's current weights. */
  public static TorchQwen2 copyOf(
      dev.tessera.model.config.Qwen2Config config, dev.tessera.model.Parameters parameters) {
    Map<String, float[]> weights = new LinkedHashMap<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    parameters
        .values()
        .forEach(
            (name, tensor) -> {
              weights.put(name, tensor.backend().toHost(tensor));
              shapes.put(name, java.util.Arrays.stream(tensor.shape()).asLongStream().toArray());
            });
    return new TorchQwen2(shapeOf(config), weights, shapes);
  }

  /** Weights by Hugging Face name, row-major, with the shapes {@code Qwen2ForCausalLM} uses. */
  public TorchQwen2(Shape shape, Map<String, float[]> weights, Map<String, long[]> shapes) {
    this.shape = shape;
    weights.forEach(
        (name, values) -> parameters.put(name, Torch.parameter(values, shapes.get(name))));
  }

  /** The parameters (leaf tensors with gradients) by Hugging Face name, e.g. for an optimizer. */
  public Map<String, Tensor> parameters() {
    return Collections.unmodifiableMap(parameters);
  }

  /**
   * Builds the RoPE tables and the additive mask once for later calls that pass these same arrays
   * (by reference), so repeated steps on one batch layout do not rebuild them on the host. Call it
   * outside any {@code PointerScope} that would free the tensors.
   */
  public void fixInputs(int batch, int tokens, long[] positions, boolean[][][] allowed) {
    fixedCosSin = rope(positions, batch, tokens, shape.headDim());
    fixedBias = maskBias(allowed, batch, tokens);
    fixedPositions = positions;
    fixedAllowed = allowed;
  }

  /**
   * Mean cross-entropy over targets != -100, back-propagated into every parameter.
   *
   * @param ids [B, T] token ids
   * @param positions [B, T] RoPE positions
   * @param allowed [B][T][T] attention mask, true where query t may attend to key s
   * @param targets [B, T] next-token targets or -100
   * @param inputEmbeds optional [B, T, hidden] embeddings replacing the lookup where {@code
   *     useEmbeds} is true (image features), or null
   */
  public float lossAndBackward(
      int batch,
      int tokens,
      long[] ids,
      long[] positions,
      boolean[][][] allowed,
      long[] targets,
      float[] inputEmbeds,
      boolean[] useEmbeds) {
    Tensor embeds = null;
    if (inputEmbeds != null) {
      inputEmbedsParameter = Torch.parameter(inputEmbeds, batch, tokens, shape.hidden());
      embeds = inputEmbedsParameter;
    }
    return lossAndBackward(batch, tokens, ids, positions, allowed, targets, embeds, useEmbeds);
  }

  /**
   * As above, with the spliced embeddings given as a libtorch graph (e.g. a projector's output).
   */
  public float lossAndBackward(
      int batch,
      int tokens,
      long[] ids,
      long[] positions,
      boolean[][][] allowed,
      long[] targets,
      Tensor inputEmbeds,
      boolean[] useEmbeds) {
    Tensor x = decoder(batch, tokens, ids, positions, allowed, inputEmbeds, useEmbeds);
    Tensor logits = logits(x, batch, tokens);
    Tensor loss =
        torch.cross_entropy_loss(
            logits, Torch.longs(targets, batch * tokens), new TensorOptional(), 1, -100, 0.0);
    loss.backward();
    return loss.item_float();
  }

  /** Logits [T, vocab] of one row, positions 0..T-1, causal mask: {@code model(ids).logits}. */
  public float[] logits(long[] ids) {
    return logits(ids, null, null);
  }

  /**
   * Logits [T, vocab] of one row (positions 0..T-1, causal) with {@code inputEmbeds} [T, hidden]
   * replacing the token embeddings where {@code useEmbeds} is true (both null: none).
   */
  public float[] logits(long[] ids, float[] inputEmbeds, boolean[] useEmbeds) {
    int t = ids.length;
    long[] positions = new long[t];
    boolean[][][] allowed = new boolean[1][t][t];
    for (int i = 0; i < t; i++) {
      positions[i] = i;
      for (int j = 0; j <= i; j++) {
        allowed[0][i][j] = true;
      }
    }
    Tensor embeds = inputEmbeds == null ? null : Torch.tensor(inputEmbeds, 1, t, shape.hidden());
    return Torch.values(logits(decoder(1, t, ids, positions, allowed, embeds, useEmbeds), 1, t));
  }

  private Tensor decoder(
      int batch,
      int tokens,
      long[] ids,
      long[] positions,
      boolean[][][] allowed,
      Tensor inputEmbeds,
      boolean[] useEmbeds) {
    int d = shape.hidden();
    int hd = shape.headDim();
    Tensor x = torch.embedding(p("model.embed_tokens.weight"), Torch.longs(ids, batch, tokens));
    if (inputEmbeds != null) {
      float[] keep = new float[batch * tokens];
      for (int i = 0; i < keep.length; i++) {
        keep[i] = useEmbeds[i] ? 0f : 1f;
      }
      Tensor keepMask = Torch.tensor(keep, batch, tokens, 1);
      Tensor replace = inputEmbeds.reshape(batch, tokens, d);
      x = x.mul(keepMask).add(replace.mul(keepMask.neg().add(new Scalar(1.0))));
    }
    Tensor[] cosSin =
        positions == fixedPositions ? fixedCosSin : rope(positions, batch, tokens, hd);
    Tensor bias = allowed == fixedAllowed ? fixedBias : maskBias(allowed, batch, tokens);
    for (int l = 0; l < shape.layers(); l++) {
      String prefix = "model.layers." + l + ".";
      Tensor h = rmsNorm(x, p(prefix + "input_layernorm.weight"));
      Tensor q = heads(linear(h, prefix + "self_attn.q_proj"), batch, tokens, shape.heads(), hd);
      Tensor k = heads(linear(h, prefix + "self_attn.k_proj"), batch, tokens, shape.kvHeads(), hd);
      Tensor v = heads(linear(h, prefix + "self_attn.v_proj"), batch, tokens, shape.kvHeads(), hd);
      q = applyRope(q, cosSin);
      k = applyRope(k, cosSin);
      int group = shape.heads() / shape.kvHeads();
      k =
          k.repeat_interleave(
              group,
              new org.bytedeco.pytorch.LongOptional(1),
              new org.bytedeco.pytorch.LongOptional());
      v =
          v.repeat_interleave(
              group,
              new org.bytedeco.pytorch.LongOptional(1),
              new org.bytedeco.pytorch.LongOptional());
      Tensor scores =
          torch.matmul(q, k.transpose(2, 3)).mul(new Scalar(1.0 / Math.sqrt(hd))).add(bias);
      Tensor attention = torch.matmul(torch.softmax(scores, -1), v);
      Tensor merged = attention.permute(0, 2, 1, 3).reshape(batch, tokens, d);
      x = x.add(linear(merged, prefix + "self_attn.o_proj"));
      h = rmsNorm(x, p(prefix + "post_attention_layernorm.weight"));
      Tensor gate = torch.silu(linear(h, prefix + "mlp.gate_proj"));
      Tensor up = linear(h, prefix + "mlp.up_proj");
      x = x.add(linear(gate.mul(up), prefix + "mlp.down_proj"));
    }
    return x;
  }

  private Tensor logits(Tensor x, int batch, int tokens) {
    Tensor normed = rmsNorm(x, p("model.norm.weight"));
    Tensor head = shape.tied() ? p("model.embed_tokens.weight") : p("lm_head.weight");
    return torch.matmul(normed, head.t()).reshape(batch * tokens, shape.vocab());
  }

  /** The gradient of the spliced input embeddings after {@link #lossAndBackward}. */
  public float[] inputEmbedsGrad() {
    return Torch.grad(inputEmbedsParameter);
  }

  /** The gradient of a parameter after {@link #lossAndBackward}. */
  public float[] grad(String name) {
    return Torch.grad(p(name));
  }

  private Tensor p(String name) {
    Tensor tensor = parameters.get(name);
    if (tensor == null) {
      throw new IllegalArgumentException("no reference weight " + name);
    }
    return tensor;
  }

  private Tensor linear(Tensor x, String prefix) {
    Tensor y = torch.matmul(x, p(prefix + ".weight").t());
    Tensor b = parameters.get(prefix + ".bias");
    return b == null ? y : y.add(b);
  }

  private Tensor rmsNorm(Tensor x, Tensor weight) {
    return torch.rms_norm(
        x,
        new long[] {shape.hidden()},
        new TensorOptional(weight),
        new DoubleOptional(shape.rmsEps()));
  }

  private static Tensor heads(Tensor x, int batch, int tokens, int heads, int headDim) {
    return x.reshape(batch, tokens, heads, headDim).permute(0, 2, 1, 3);
  }

  /** cos and sin [B, 1, T, hd] for HF's rotate_half layout (frequencies repeated twice). */
  private Tensor[] rope(long[] positions, int batch, int tokens, int headDim) {
    int half = headDim / 2;
    float[] cos = new float[batch * tokens * headDim];
    float[] sin = new float[batch * tokens * headDim];
    for (int t = 0; t < batch * tokens; t++) {
      for (int i = 0; i < half; i++) {
        double inverseFrequency = 1.0 / Math.pow(shape.ropeTheta(), (2.0 * i) / headDim);
        double angle = positions[t] * inverseFrequency;
        cos[t * headDim + i] = cos[t * headDim + i + half] = (float) Math.cos(angle);
        sin[t * headDim + i] = sin[t * headDim + i + half] = (float) Math.sin(angle);
      }
    }
    return new Tensor[] {
      Torch.tensor(cos, batch, 1, tokens, headDim), Torch.tensor(sin, batch, 1, tokens, headDim)
    };
  }

  private static Tensor applyRope(Tensor x, Tensor[] cosSin) {
    long half = x.size(3) / 2;
    Tensor first = x.narrow(3, 0, half);
    Tensor second = x.narrow(3, half, half);
    TensorVector parts = new TensorVector(second.neg(), first);
    Tensor rotated = torch.cat(new TensorArrayRef(parts), 3);
    return x.mul(cosSin[0]).add(rotated.mul(cosSin[1]));
  }

  private static Tensor maskBias(boolean[][][] allowed, int batch, int tokens) {
    float[] bias = new float[batch * tokens * tokens];
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < tokens; t++) {
        for (int s = 0; s < tokens; s++) {
          bias[(b * tokens + t) * tokens + s] = allowed[b][t][s] ? 0f : -1e30f;
        }
      }
    }
    return Torch.tensor(bias, batch, 1, tokens, tokens);
  }
}
