package dev.tessera.model.qwen2;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Add;
import dev.tessera.engine.ops.Attention;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.engine.ops.Embedding;
import dev.tessera.engine.ops.LinearCrossEntropy;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.engine.ops.RmsNorm;
import dev.tessera.engine.ops.Rope;
import dev.tessera.engine.ops.SwiGlu;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.Qwen2Config;
import java.util.Arrays;

/**
 * The Qwen2 decoder (Hugging Face {@code Qwen2ForCausalLM}) with explicit forward and backward,
 * reading top to bottom like the model:
 *
 * <pre>{@code
 * x = embed(ids)                                   (visual features spliced in where given)
 * per layer: h = rmsnorm(x); q,k,v = h Wq+bq, h Wk+bk, h Wv+bv; rope(q, k)
 *            x = x + attention(q, k, v) Wo
 *            h = rmsnorm(x); x = x + (silu(h Wgate) * (h Wup)) Wdown
 * loss = cross_entropy(rmsnorm(x) Whead, targets)  (in chunks of rows: never all logits at once)
 * }</pre>
 *
 * Parameters and gradients live in {@link Parameters} under Hugging Face names. With activation
 * checkpointing only each layer's input is kept; the rest of a layer is recomputed in backward.
 */
public final class Qwen2Decoder {
  /** Rows of logits materialised at a time by the classifier and loss, on the CPU. */
  static final int LOSS_CHUNK_ROWS = 256;

  /**
   * On a GPU: larger chunks keep the classifier's GEMMs efficient (1024 x 151936 fp32 = 622 MB).
   */
  static final int DEVICE_LOSS_CHUNK_ROWS = 1024;

  private final Qwen2Config config;
  private final Backend backend;
  private final Parameters parameters;
  private final boolean checkpointing;
  private final Rope.Table rope;
  private final Layer[] layers;

  /** The named weights (and gradients) of one decoder layer. */
  private record Layer(
      String prefix,
      Tensor inputNorm,
      Tensor q,
      Tensor qBias,
      Tensor k,
      Tensor kBias,
      Tensor v,
      Tensor vBias,
      Tensor o,
      Tensor postNorm,
      Tensor gate,
      Tensor up,
      Tensor down) {}

  public Qwen2Decoder(Backend backend, Qwen2Config config, boolean activationCheckpointing) {
    this.config = config;
    this.backend = backend;
    this.parameters = new Parameters(backend, ModelParameters.qwen2(config));
    this.checkpointing = activationCheckpointing;
    this.rope =
        new Rope.Table(config.headDim(), config.ropeTheta(), config.maxPositionEmbeddings());
    this.layers = new Layer[config.numHiddenLayers()];
    for (int l = 0; l < layers.length; l++) {
      String p = "model.layers." + l + ".";
      layers[l] =
          new Layer(
              p,
              parameters.value(p + "input_layernorm.weight"),
              parameters.value(p + "self_attn.q_proj.weight"),
              parameters.value(p + "self_attn.q_proj.bias"),
              parameters.value(p + "self_attn.k_proj.weight"),
              parameters.value(p + "self_attn.k_proj.bias"),
              parameters.value(p + "self_attn.v_proj.weight"),
              parameters.value(p + "self_attn.v_proj.bias"),
              parameters.value(p + "self_attn.o_proj.weight"),
              parameters.value(p + "post_attention_layernorm.weight"),
              parameters.value(p + "mlp.gate_proj.weight"),
              parameters.value(p + "mlp.up_proj.weight"),
              parameters.value(p + "mlp.down_proj.weight"));
    }
  }

  public Qwen2Config config() {
    return config;
  }

  public Parameters parameters() {
    return parameters;
  }

  private Tensor embedding() {
    return parameters.value("model.embed_tokens.weight");
  }

  private Tensor head() {
    return config.tieWordEmbeddings() ? embedding() : parameters.value("lm_head.weight");
  }

  private String headName() {
    return config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
  }

  /** What one layer's forward produces and its backward reads. */
  private final class LayerActivations {
    final Tensor input; // [N, D] the layer's input (the residual stream)
    final Tensor norm1; // [N, D]
    final Tensor rstd1; // [N]
    final Tensor q; // [N, Hq*hd] after RoPE
    final Tensor k; // [N, Hkv*hd] after RoPE
    final Tensor v; // [N, Hkv*hd]
    final Tensor attention; // [N, Hq*hd]
    final Tensor lse; // [B, Hq, T]
    final Tensor middle; // [N, D] input + attention output
    final Tensor norm2; // [N, D]
    final Tensor rstd2; // [N]
    final Tensor gate; // [N, F]
    final Tensor up; // [N, F]
    final Tensor act; // [N, F] silu(gate) * up

    /** Frees everything but the input (the previous layer's output, owned by the caller). */
    void release() {
      backend.release(norm1, rstd1, q, k, v, attention, lse, middle, norm2, rstd2, gate, up, act);
    }

    LayerActivations(int rows, int tokens, Tensor input) {
      int n = rows * tokens;
      int d = config.hiddenSize();
      int f = config.intermediateSize();
      this.input = input;
      // Every activation is written whole by its forward op before anything reads it.
      norm1 = backend.empty(n, d);
      rstd1 = backend.empty(n);
      q = backend.empty(n, config.numAttentionHeads() * config.headDim());
      k = backend.empty(n, config.kvDim());
      v = backend.empty(n, config.kvDim());
      attention = backend.empty(n, config.numAttentionHeads() * config.headDim());
      lse = backend.empty(rows, config.numAttentionHeads(), tokens);
      middle = backend.empty(n, d);
      norm2 = backend.empty(n, d);
      rstd2 = backend.empty(n);
      gate = backend.empty(n, f);
      up = backend.empty(n, f);
      act = backend.empty(n, f);
    }
  }

  /**
   * Forward and backward of one batch: returns the mean loss over the batch's targets and
   * accumulates every parameter's gradient; when the batch carries input embeddings, their gradient
   * is accumulated into {@code dInputEmbeds} ([B*T, hidden], may be null otherwise).
   */
  public double forwardBackward(Qwen2Batch batch, Tensor dInputEmbeds) {
    long valid = CrossEntropy.countValid(batch.targets());
    if (valid == 0) {
      throw new IllegalArgumentException("the batch has no targets (all -100)");
    }
    return forwardBackwardSum(batch, dInputEmbeds, 1.0 / valid) / valid;
  }

  /**
   * Forward and backward of one micro-batch of a larger batch: returns the sum of the token losses
   * and accumulates the gradients of that sum times {@code gradientScale} — with {@code 1 /
   * (targets of the whole batch)}, the micro-batches' gradients add up to the gradient of the
   * batch's mean loss over its real tokens, however the tokens fall into micro-batches.
   */
  public double forwardBackwardSum(Qwen2Batch batch, Tensor dInputEmbeds, double gradientScale) {
    int n = batch.rows() * batch.tokens();
    int d = config.hiddenSize();
    if (batch.useEmbeds() != null && batch.inputEmbeds() == null) {
      throw new IllegalArgumentException(
          "the batch marks image positions but carries no inputEmbeds");
    }

    // Forward, keeping each layer's input (and, without checkpointing, everything else).
    Tensor[] inputs = new Tensor[layers.length + 1];
    inputs[0] = embed(batch);
    LayerActivations[] saved = new LayerActivations[layers.length];
    for (int l = 0; l < layers.length; l++) {
      LayerActivations acts = new LayerActivations(batch.rows(), batch.tokens(), inputs[l]);
      inputs[l + 1] = backend.empty(n, d);
      layerForward(layers[l], batch, acts, inputs[l + 1]);
      if (checkpointing) {
        acts.release(); // recomputed in backward
      } else {
        saved[l] = acts;
      }
    }
    Tensor finalNorm = backend.empty(n, d);
    Tensor finalRstd = backend.empty(n);
    Tensor normWeight = parameters.value("model.norm.weight");
    RmsNorm.forward(
        finalNorm, finalRstd, inputs[layers.length], normWeight, (float) config.rmsNormEps());

    // Classifier and loss in chunks of rows; their gradient flows straight into dFinalNorm.
    Tensor dFinalNorm = backend.zeros(n, d);
    double loss = classifierLoss(batch, finalNorm, dFinalNorm, gradientScale);

    // Backward through the final norm and the layers, last to first.
    Tensor dx = backend.zeros(n, d);
    RmsNorm.backward(
        dx,
        parameters.grad("model.norm.weight"),
        dFinalNorm,
        inputs[layers.length],
        normWeight,
        finalRstd);
    backend.release(finalNorm, finalRstd, dFinalNorm, inputs[layers.length]);
    // Each layer's activations, its output gradient and its output die with its backward.
    for (int l = layers.length - 1; l >= 0; l--) {
      LayerActivations acts = saved[l];
      if (acts == null) {
        acts = new LayerActivations(batch.rows(), batch.tokens(), inputs[l]);
        Tensor recomputed = backend.empty(n, d);
        layerForward(layers[l], batch, acts, recomputed);
        backend.release(recomputed);
      }
      layerBackward(layers[l], batch, acts, dx); // dx becomes the layer input's gradient
      acts.release();
      if (l > 0) {
        backend.release(inputs[l]);
      }
    }
    embedBackward(batch, dx, dInputEmbeds);
    backend.release(dx, inputs[0]);
    return loss;
  }

  /**
   * Forward only: the sum of the token losses of a batch, the very value {@link
   * #forwardBackwardSum} returns (the same forward, the same chunks of the classifier), without its
   * backward pass; each layer's activations are released as soon as the next layer has its input.
   * What a held-out loss is measured with.
   */
  public double lossSum(Qwen2Batch batch) {
    int n = batch.rows() * batch.tokens();
    int d = config.hiddenSize();
    if (batch.useEmbeds() != null && batch.inputEmbeds() == null) {
      throw new IllegalArgumentException(
          "the batch marks image positions but carries no inputEmbeds");
    }
    Tensor x = embed(batch);
    for (Layer layer : layers) {
      LayerActivations acts = new LayerActivations(batch.rows(), batch.tokens(), x);
      Tensor next = backend.empty(n, d);
      layerForward(layer, batch, acts, next);
      acts.release();
      backend.release(x);
      x = next;
    }
    Tensor finalNorm = backend.empty(n, d);
    Tensor finalRstd = backend.empty(n);
    RmsNorm.forward(
        finalNorm,
        finalRstd,
        x,
        parameters.value("model.norm.weight"),
        (float) config.rmsNormEps());
    backend.release(x, finalRstd);
    double loss = classifierLoss(batch, finalNorm, null, 1.0);
    backend.release(finalNorm);
    return loss;
  }

  /**
   * Forward only: the logits of every position of one row of token ids, positions {@code 0..T-1},
   * causal attention over the whole row — what {@code Qwen2ForCausalLM(input_ids).logits} gives.
   *
   * @return [T, vocab] logits
   */
  public Tensor logits(int[] ids) {
    int t = ids.length;
    Qwen2Batch batch = Qwen2Batch.text(1, t, ids, new int[t]);
    Tensor x = embed(batch);
    for (Layer layer : layers) {
      Tensor next = backend.zeros(t, config.hiddenSize());
      layerForward(layer, batch, new LayerActivations(1, t, x), next);
      x = next;
    }
    Tensor normed = backend.zeros(t, config.hiddenSize());
    RmsNorm.forward(
        normed,
        backend.zeros(t),
        x,
        parameters.value("model.norm.weight"),
        (float) config.rmsNormEps());
    Tensor logits = backend.zeros(t, config.vocabSize());
    Matmul.forward(logits, normed, head(), null);
    return logits;
  }

  /**
   * Forward only: the logits of each row's last position, {@code [rows, vocab]} — the next-token
   * distribution a generator samples from. The batch's positions, mask and spliced embeddings apply
   * as in training; nothing is kept for a backward pass.
   */
  public Tensor lastLogits(Qwen2Batch batch) {
    int[] lengths = new int[batch.rows()];
    Arrays.fill(lengths, batch.tokens());
    return forwardToPositions(batch, lengths, null);
  }

  /**
   * Prompts run once so that continuations of them cost only their own tokens: each layer's keys
   * and values (after RoPE) of every row's first {@code lengths[r]} positions, kept on the host,
   * and the logits after each row's prompt. Made by {@link #prefill}, read by {@link #extend}.
   */
  public static final class Prefix {
    private final int tokens;
    private final int[] lengths;
    private final int[] nextPositions;
    private final float[][] keys;
    private final float[][] values;
    private final Tensor lastLogits;

    private Prefix(
        int tokens,
        int[] lengths,
        int[] nextPositions,
        float[][] keys,
        float[][] values,
        Tensor lastLogits) {
      this.tokens = tokens;
      this.lengths = lengths;
      this.nextPositions = nextPositions;
      this.keys = keys;
      this.values = values;
      this.lastLogits = lastLogits;
    }

    public int rows() {
      return lengths.length;
    }

    /** The logits after each row's prompt: [rows, vocab]. */
    public Tensor lastLogits() {
      return lastLogits;
    }
  }

  /**
   * Runs prompts once for {@link #extend}: row {@code r} of the batch holds a prompt of {@code
   * lengths[r]} tokens (rows padded to the batch's T after it; causal attention keeps the padding
   * out of the prompt). Continuations take the positions after the prompt's last one.
   */
  public Prefix prefill(Qwen2Batch batch, int[] lengths) {
    if (batch.mask() != AttentionMask.CONTINUOUS) {
      throw new IllegalArgumentException("prompts are prefilled with the continuous mask");
    }
    float[][] keys = new float[layers.length][];
    float[][] values = new float[layers.length][];
    Tensor logits = forwardToPositions(batch, lengths, new float[][][] {keys, values});
    int[] next = new int[lengths.length];
    for (int r = 0; r < lengths.length; r++) {
      next[r] = batch.positions()[r * batch.tokens() + lengths[r] - 1] + 1;
    }
    return new Prefix(batch.tokens(), lengths.clone(), next, keys, values, logits);
  }

  /**
   * The logits after continuations of prefilled prompts, without running the prompts again. Token
   * {@code j} ({@code ids[j]}) continues prompt row {@code rows[j]} right after the prompt ({@code
   * parents[j] = -1}) or after an earlier token of the same row ({@code parents[j] < j}): it sees
   * the prompt, its ancestors and itself, at the position after its parent's — as if the sequence
   * {@code prompt + path} had been run whole. One call grows any number of such trees, so a
   * prompt's alternative next tokens share one pass.
   *
   * @return [m, vocab] the next-token logits after each token
   */
  public Tensor extend(Prefix prefix, int[] rows, int[] ids, int[] parents) {
    Tensor x = extendHidden(prefix, rows, ids, parents, null);
    Tensor logits = finalLogits(x);
    backend.release(x);
    return logits;
  }

  /**
   * A one-row prefix grown by token {@code id}: its keys and values appended, and its {@link
   * Prefix#lastLogits} the logits after it ({@code [1, vocab]}). Generating one token at a time
   * this way runs each token once, as a key-value cache does.
   */
  public Prefix append(Prefix prefix, int id) {
    if (prefix.rows() != 1) {
      throw new IllegalArgumentException(
          "tokens are appended to a one-row prefix, not one of " + prefix.rows());
    }
    float[][][] added = new float[2][layers.length][];
    Tensor x = extendHidden(prefix, new int[] {0}, new int[] {id}, new int[] {-1}, added);
    Tensor logits = finalLogits(x);
    backend.release(x);
    int kv = config.kvDim();
    int length = prefix.lengths[0];
    float[][] keys = new float[layers.length][];
    float[][] values = new float[layers.length][];
    for (int l = 0; l < layers.length; l++) {
      keys[l] = Arrays.copyOf(prefix.keys[l], (length + 1) * kv);
      System.arraycopy(added[0][l], 0, keys[l], length * kv, kv);
      values[l] = Arrays.copyOf(prefix.values[l], (length + 1) * kv);
      System.arraycopy(added[1][l], 0, values[l], length * kv, kv);
    }
    return new Prefix(
        length + 1,
        new int[] {length + 1},
        new int[] {prefix.nextPositions[0] + 1},
        keys,
        values,
        logits);
  }

  /**
   * The continuation tokens' hidden states after the last layer: [m, hidden]; with {@code keep}
   * ({@code [2][layers][]}), each layer's keys and values of the tokens (after RoPE), on the host.
   */
  private Tensor extendHidden(
      Prefix prefix, int[] rows, int[] ids, int[] parents, float[][][] keep) {
    int m = ids.length;
    if (rows.length != m || parents.length != m || m == 0) {
      throw new IllegalArgumentException(
          "need one row and one parent per token: "
              + rows.length
              + ", "
              + parents.length
              + ", "
              + m);
    }
    int[] positions = new int[m];
    for (int j = 0; j < m; j++) {
      if (rows[j] < 0 || rows[j] >= prefix.rows()) {
        throw new IllegalArgumentException(
            "token " + j + " continues row " + rows[j] + " of a prefix of " + prefix.rows());
      }
      int parent = parents[j];
      if (parent >= j || parent < -1 || (parent >= 0 && rows[parent] != rows[j])) {
        throw new IllegalArgumentException(
            "token " + j + " has parent " + parent + ": an earlier token of its row, or -1");
      }
      positions[j] = parent < 0 ? prefix.nextPositions[rows[j]] : positions[parent] + 1;
    }
    int d = config.hiddenSize();
    int hd = config.headDim();
    int hq = config.numAttentionHeads();
    int hkv = config.numKeyValueHeads();
    float eps = (float) config.rmsNormEps();
    Tensor x = backend.zeros(m, d);
    Embedding.forward(x, embedding(), ids, 0);
    for (int l = 0; l < layers.length; l++) {
      Layer layer = layers[l];
      Tensor norm = backend.empty(m, d);
      Tensor rstd = backend.empty(m);
      Tensor q = backend.empty(m, hq * hd);
      Tensor k = backend.empty(m, config.kvDim());
      Tensor v = backend.empty(m, config.kvDim());
      RmsNorm.forward(norm, rstd, x, layer.inputNorm(), eps);
      Matmul.forward(q, norm, layer.q(), layer.qBias());
      Matmul.forward(k, norm, layer.k(), layer.kBias());
      Matmul.forward(v, norm, layer.v(), layer.vBias());
      Rope.forward(q.view(m, hq, hd), q.view(m, hq, hd), positions, 0, rope);
      Rope.forward(k.view(m, hkv, hd), k.view(m, hkv, hd), positions, 0, rope);
      float[] keys = backend.toHost(k);
      float[] values = backend.toHost(v);
      if (keep != null) {
        keep[0][l] = keys;
        keep[1][l] = values;
      }
      float[] attended =
          TreeAttention.forward(
              backend.toHost(q),
              keys,
              values,
              prefix.keys[l],
              prefix.values[l],
              prefix.tokens,
              prefix.lengths,
              rows,
              parents,
              hq,
              hkv,
              hd);
      Tensor attention = backend.fromHost(attended, m, hq * hd);
      Tensor projected = backend.empty(m, d);
      Matmul.forward(projected, attention, layer.o(), null);
      Tensor middle = backend.empty(m, d);
      Add.forward(middle, x, projected);
      RmsNorm.forward(norm, rstd, middle, layer.postNorm(), eps);
      Tensor gate = backend.empty(m, config.intermediateSize());
      Tensor up = backend.empty(m, config.intermediateSize());
      Matmul.forward(gate, norm, layer.gate(), null);
      Matmul.forward(up, norm, layer.up(), null);
      SwiGlu.forward(gate, gate, up);
      Tensor mlp = backend.empty(m, d);
      Matmul.forward(mlp, gate, layer.down(), null);
      Add.forward(x, middle, mlp);
      backend.release(norm, rstd, q, k, v, attention, projected, middle, gate, up, mlp);
    }
    return x;
  }

  /**
   * Runs every layer over the batch and returns the logits at position {@code lengths[r] - 1} of
   * each row r; with {@code keysAndValues} ({@code [2][layers][]}), keeps each layer's keys and
   * values (after RoPE) on the host.
   */
  private Tensor forwardToPositions(Qwen2Batch batch, int[] lengths, float[][][] keysAndValues) {
    int rows = batch.rows();
    int t = batch.tokens();
    int d = config.hiddenSize();
    if (lengths.length != rows) {
      throw new IllegalArgumentException(lengths.length + " lengths for " + rows + " rows");
    }
    for (int length : lengths) {
      if (length < 1 || length > t) {
        throw new IllegalArgumentException("a row's length " + length + " is outside 1.." + t);
      }
    }
    Tensor x = embed(batch);
    for (int l = 0; l < layers.length; l++) {
      LayerActivations acts = new LayerActivations(rows, t, x);
      Tensor next = backend.empty(rows * t, d);
      layerForward(layers[l], batch, acts, next);
      if (keysAndValues != null) {
        keysAndValues[0][l] = backend.toHost(acts.k);
        keysAndValues[1][l] = backend.toHost(acts.v);
      }
      acts.release();
      backend.release(x);
      x = next;
    }
    Tensor last = backend.empty(rows, d);
    for (int r = 0; r < rows; r++) {
      backend.copy(x.get(r * t + lengths[r] - 1), last.get(r));
    }
    backend.release(x);
    Tensor logits = finalLogits(last);
    backend.release(last);
    return logits;
  }

  /** {@code rmsnorm(x) Whead^T} for a few rows x [n, hidden]: [n, vocab]. */
  private Tensor finalLogits(Tensor x) {
    int n = x.dim(0);
    Tensor normed = backend.empty(n, config.hiddenSize());
    Tensor rstd = backend.empty(n);
    RmsNorm.forward(
        normed, rstd, x, parameters.value("model.norm.weight"), (float) config.rmsNormEps());
    Tensor logits = backend.empty(n, config.vocabSize());
    Matmul.forward(logits, normed, head(), null);
    backend.release(normed, rstd);
    return logits;
  }

  private Tensor embed(Qwen2Batch batch) {
    int n = batch.rows() * batch.tokens();
    Tensor x = backend.zeros(n, config.hiddenSize());
    int[] ids = lookupIds(batch);
    Embedding.forward(x, embedding(), ids, 0);
    if (batch.useEmbeds() != null) {
      for (int i = 0; i < n; i++) {
        if (batch.useEmbeds()[i]) {
          backend.copy(batch.inputEmbeds().get(i), x.get(i));
        }
      }
    }
    return x;
  }

  private void embedBackward(Qwen2Batch batch, Tensor dx, Tensor dInputEmbeds) {
    if (batch.useEmbeds() != null) {
      for (int i = 0; i < batch.useEmbeds().length; i++) {
        if (batch.useEmbeds()[i]) {
          if (dInputEmbeds != null) {
            Add.accumulate(dInputEmbeds.get(i), dx.get(i));
          }
          backend.zero(dx.get(i));
        }
      }
    }
    Embedding.backward(parameters.grad("model.embed_tokens.weight"), dx, lookupIds(batch), 0);
  }

  /** Ids to look up: visual positions look up row 0 and are overwritten (or zeroed) after. */
  private static int[] lookupIds(Qwen2Batch batch) {
    if (batch.useEmbeds() == null) {
      return batch.ids();
    }
    int[] ids = batch.ids().clone();
    for (int i = 0; i < ids.length; i++) {
      if (batch.useEmbeds()[i]) {
        ids[i] = 0;
      }
    }
    return ids;
  }

  private void layerForward(Layer layer, Qwen2Batch batch, LayerActivations a, Tensor output) {
    int rows = batch.rows();
    int t = batch.tokens();
    int n = rows * t;
    int hd = config.headDim();
    float eps = (float) config.rmsNormEps();
    // The normalised inputs and the MLP activation feed only linear layers (here and in the
    // backward): a device backend may keep just the low-precision copy its GEMMs read.
    backend.onlyForGemms(a.norm1);
    RmsNorm.forward(a.norm1, a.rstd1, a.input, layer.inputNorm(), eps);
    Matmul.forward(a.q, a.norm1, layer.q(), layer.qBias());
    Matmul.forward(a.k, a.norm1, layer.k(), layer.kBias());
    Matmul.forward(a.v, a.norm1, layer.v(), layer.vBias());
    Tensor q = a.q.view(n, config.numAttentionHeads(), hd);
    Tensor k = a.k.view(n, config.numKeyValueHeads(), hd);
    Rope.forward(q, q, batch.positions(), 0, rope);
    Rope.forward(k, k, batch.positions(), 0, rope);
    Attention.forward(
        a.attention.view(rows, t, config.numAttentionHeads(), hd),
        a.lse,
        a.q.view(rows, t, config.numAttentionHeads(), hd),
        a.k.view(rows, t, config.numKeyValueHeads(), hd),
        a.v.view(rows, t, config.numKeyValueHeads(), hd),
        batch.mask(),
        batch.sampleStarts());
    backend.markImmutable(a.attention);
    Tensor projected = backend.empty(n, config.hiddenSize());
    Matmul.forward(projected, a.attention, layer.o(), null);
    Add.forward(a.middle, a.input, projected);
    backend.onlyForGemms(a.norm2);
    RmsNorm.forward(a.norm2, a.rstd2, a.middle, layer.postNorm(), eps);
    Matmul.forward(a.gate, a.norm2, layer.gate(), null);
    Matmul.forward(a.up, a.norm2, layer.up(), null);
    backend.onlyForGemms(a.act);
    SwiGlu.forward(a.act, a.gate, a.up);
    Tensor mlp = backend.empty(n, config.hiddenSize());
    Matmul.forward(mlp, a.act, layer.down(), null);
    Add.forward(output, a.middle, mlp);
    backend.release(projected, mlp);
  }

  /**
   * Backward of one layer: {@code dx} holds the gradient of its output and is turned, in place,
   * into the gradient of its input (both residual branches add to it once each has read it).
   */
  private void layerBackward(Layer layer, Qwen2Batch batch, LayerActivations a, Tensor dx) {
    int rows = batch.rows();
    int t = batch.tokens();
    int n = rows * t;
    int d = config.hiddenSize();
    int f = config.intermediateSize();
    int hd = config.headDim();
    String p = layer.prefix();

    // output = middle + down(silu(gate(norm2)) * up(norm2)): dx is dOutput until the MLP branch
    // adds its share through the norm, then dMiddle.
    Tensor dOutput = dx;
    Tensor dMiddle = dx;
    // The first gradient into each fresh buffer overwrites it (no zero fill); the rest add.
    Tensor dAct = backend.empty(n, f);
    Matmul.backward(
        dAct,
        parameters.grad(p + "mlp.down_proj.weight"),
        null,
        dOutput,
        a.act,
        layer.down(),
        false);
    Tensor dGate = backend.empty(n, f);
    Tensor dUp = backend.empty(n, f);
    backend.onlyForGemms(dGate, dUp);
    SwiGlu.backward(dGate, dUp, dAct, a.gate, a.up, false);
    Tensor dNorm2 = backend.empty(n, d);
    Matmul.backward(
        dNorm2,
        parameters.grad(p + "mlp.gate_proj.weight"),
        null,
        dGate,
        a.norm2,
        layer.gate(),
        false);
    Matmul.backward(
        dNorm2, parameters.grad(p + "mlp.up_proj.weight"), null, dUp, a.norm2, layer.up());
    RmsNorm.backward(
        dMiddle,
        parameters.grad(p + "post_attention_layernorm.weight"),
        dNorm2,
        a.middle,
        layer.postNorm(),
        a.rstd2);

    // middle = input + o(attention(rope(q(norm1)), rope(k(norm1)), v(norm1))): dx is dMiddle
    // until the attention branch adds its share through the norm, then dInput.
    Tensor dInput = dx;
    Tensor dAttention = backend.empty(n, config.numAttentionHeads() * hd);
    Matmul.backward(
        dAttention,
        parameters.grad(p + "self_attn.o_proj.weight"),
        null,
        dMiddle,
        a.attention,
        layer.o(),
        false);
    Tensor dq = backend.empty(n, config.numAttentionHeads() * hd);
    Tensor dk = backend.empty(n, config.kvDim());
    Tensor dv = backend.empty(n, config.kvDim());
    Attention.backward(
        dq.view(rows, t, config.numAttentionHeads(), hd),
        dk.view(rows, t, config.numKeyValueHeads(), hd),
        dv.view(rows, t, config.numKeyValueHeads(), hd),
        dAttention.view(rows, t, config.numAttentionHeads(), hd),
        a.q.view(rows, t, config.numAttentionHeads(), hd),
        a.k.view(rows, t, config.numKeyValueHeads(), hd),
        a.v.view(rows, t, config.numKeyValueHeads(), hd),
        a.attention.view(rows, t, config.numAttentionHeads(), hd),
        a.lse,
        batch.mask(),
        batch.sampleStarts(),
        false);
    Tensor dqPre = backend.empty(n, config.numAttentionHeads() * hd);
    Tensor dkPre = backend.empty(n, config.kvDim());
    Rope.backward(
        dqPre.view(n, config.numAttentionHeads(), hd),
        dq.view(n, config.numAttentionHeads(), hd),
        batch.positions(),
        0,
        rope,
        false);
    Rope.backward(
        dkPre.view(n, config.numKeyValueHeads(), hd),
        dk.view(n, config.numKeyValueHeads(), hd),
        batch.positions(),
        0,
        rope,
        false);
    Tensor dNorm1 = backend.empty(n, d);
    Matmul.backward(
        dNorm1,
        parameters.grad(p + "self_attn.q_proj.weight"),
        parameters.grad(p + "self_attn.q_proj.bias"),
        dqPre,
        a.norm1,
        layer.q(),
        false);
    Matmul.backward(
        dNorm1,
        parameters.grad(p + "self_attn.k_proj.weight"),
        parameters.grad(p + "self_attn.k_proj.bias"),
        dkPre,
        a.norm1,
        layer.k());
    Matmul.backward(
        dNorm1,
        parameters.grad(p + "self_attn.v_proj.weight"),
        parameters.grad(p + "self_attn.v_proj.bias"),
        dv,
        a.norm1,
        layer.v());
    RmsNorm.backward(
        dInput,
        parameters.grad(p + "input_layernorm.weight"),
        dNorm1,
        a.input,
        layer.inputNorm(),
        a.rstd1);
    backend.release(dAct, dGate, dUp, dNorm2, dAttention, dq, dk, dv, dqPre, dkPre, dNorm1);
  }

  /**
   * Sum of the token losses; the gradient of the mean loss goes into {@code dHidden}.
   *
   * <p>Only rows with a target reach the classifier: image placeholders, prompts and padding are
   * left out before their logits are computed (in pre-training most rows are image tokens, and the
   * classifier over the whole vocabulary is the costliest product). The rows with targets are taken
   * in chunks of {@link #LOSS_CHUNK_ROWS} ({@link #DEVICE_LOSS_CHUNK_ROWS} on a device); a chunk
   * whose rows are not contiguous is gathered into a buffer first, and its hidden-state gradient
   * added back a run of consecutive rows at a time. The rows left out have zero loss gradient: they
   * added nothing to the classifier's weight gradient or to the hidden states' gradient before.
   */
  private double classifierLoss(Qwen2Batch batch, Tensor hidden, Tensor dHidden, double lossScale) {
    int n = hidden.dim(0);
    int d = hidden.dim(1);
    int vocab = config.vocabSize();
    int[] targets = batch.targets();
    Tensor head = head();
    boolean backward = dHidden != null;
    Tensor dHead = backward ? parameters.grad(headName()) : null;
    int[] kept = new int[n];
    int count = 0;
    for (int row = 0; row < n; row++) {
      if (targets[row] != CrossEntropy.IGNORE_INDEX) {
        kept[count++] = row;
      }
    }
    double loss = 0;
    int chunk = backend.device() == Device.CPU ? LOSS_CHUNK_ROWS : DEVICE_LOSS_CHUNK_ROWS;
    for (int first = 0; first < count; first += chunk) {
      int rows = Math.min(chunk, count - first);
      int from = kept[first];
      boolean contiguous = kept[first + rows - 1] - from == rows - 1;
      Tensor h;
      Tensor dh;
      int[] chunkTargets;
      if (contiguous) {
        h = hidden.slice((long) from * d, rows, d);
        dh = backward ? dHidden.slice((long) from * d, rows, d) : null;
        chunkTargets = Arrays.copyOfRange(targets, from, from + rows);
      } else {
        h = backend.empty(rows, d);
        dh = backward ? backend.empty(rows, d) : null;
        chunkTargets = new int[rows];
        forEachRun(
            kept,
            first,
            rows,
            (at, row, length) -> {
              backend.copy(
                  hidden.slice((long) row * d, length, d), h.slice((long) at * d, length, d));
              System.arraycopy(targets, row, chunkTargets, at, length);
            });
      }
      if (LinearCrossEntropy.pays(h)) {
        // Narrow hidden states on the CPU: the logits never leave the cache.
        loss +=
            backward
                ? LinearCrossEntropy.forwardBackward(
                    dh, dHead, h, head, chunkTargets, (float) lossScale, contiguous)
                : LinearCrossEntropy.forward(h, head, chunkTargets);
      } else {
        Tensor logits = backend.empty(rows, vocab);
        Matmul.forward(logits, h, head, null);
        Tensor dLogits = backend.empty(rows, vocab);
        backend.onlyForGemms(dLogits);
        // The loss comes with its gradient; without a backward the gradient goes no further.
        loss += CrossEntropy.forwardBackward(dLogits, logits, chunkTargets, (float) lossScale);
        if (backward) {
          Matmul.backward(dh, dHead, null, dLogits, h, head, contiguous);
        }
        backend.release(logits, dLogits);
      }
      if (!contiguous && !backward) {
        backend.release(h);
      } else if (!contiguous) {
        forEachRun(
            kept,
            first,
            rows,
            (at, row, length) ->
                Add.accumulate(
                    dHidden.slice((long) row * d, length, d), dh.slice((long) at * d, length, d)));
        backend.release(h, dh);
      }
    }
    return loss;
  }

  /** A run of consecutive rows: {@code length} rows from {@code row}, at {@code at} in a chunk. */
  private interface RowRun {
    void accept(int at, int row, int length);
  }

  /** The runs of consecutive rows among {@code rows[first, first + count)}. */
  private static void forEachRun(int[] rows, int first, int count, RowRun run) {
    int start = 0;
    for (int i = 1; i <= count; i++) {
      if (i == count || rows[first + i] != rows[first + i - 1] + 1) {
        run.accept(start, rows[first + start], i - start);
        start = i;
      }
    }
  }
}
