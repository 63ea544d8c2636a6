package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;

/**
 * The kernels a non-CPU backend supplies for the ops. Each op class checks its arguments (shapes,
 * ids, positions, targets) once, on the host, and then either runs its CPU kernel or hands the
 * same, already validated arguments to the tensors' backend through this interface. So model code
 * calls {@code RmsNorm.forward(...)} whatever the device, and a backend implements only the
 * arithmetic.
 *
 * <p>Every method has exactly the semantics of the op method it is named after (overwrite versus
 * accumulate, aliasing allowed or not); the op's javadoc is the specification. All tensors of one
 * call live on the same backend.
 */
public interface DeviceKernels {

  /** {@link Matmul#forward}. */
  void matmulForward(Tensor out, Tensor inp, Tensor weight, Tensor bias);

  /** {@link Matmul#backward}; null gradients are skipped. */
  /** {@link Matmul#backward}; {@code accumulateDinp} false overwrites {@code dinp}. */
  void matmulBackward(
      Tensor dinp,
      Tensor dweight,
      Tensor dbias,
      Tensor dout,
      Tensor inp,
      Tensor weight,
      boolean accumulateDinp);

  /** {@link Embedding#forward}; ids already checked against the table. */
  void embeddingForward(Tensor out, Tensor table, int[] ids, int idsOffset);

  /** {@link Embedding#backward}. */
  void embeddingBackward(Tensor dtable, Tensor dout, int[] ids, int idsOffset);

  /** {@link RmsNorm#forward}. */
  void rmsNormForward(Tensor out, Tensor rstd, Tensor inp, Tensor weight, float eps);

  /** {@link RmsNorm#backward}. */
  void rmsNormBackward(
      Tensor dinp, Tensor dweight, Tensor dout, Tensor inp, Tensor weight, Tensor rstd);

  /** {@link LayerNorm#forward}. */
  void layerNormForward(
      Tensor out, Tensor mean, Tensor rstd, Tensor inp, Tensor weight, Tensor bias, float eps);

  /** {@link LayerNorm#backward}. */
  void layerNormBackward(
      Tensor dinp,
      Tensor dweight,
      Tensor dbias,
      Tensor dout,
      Tensor inp,
      Tensor weight,
      Tensor mean,
      Tensor rstd);

  /**
   * {@link Rope#forward} ({@code inverse} false: {@code target = R source}, target may be source)
   * and {@link Rope#backward} ({@code inverse} true: {@code target += R^T source}, or with {@code
   * accumulate} false {@code target = R^T source} over whatever target held).
   */
  void rope(
      Tensor target,
      Tensor source,
      int[] positions,
      int positionsOffset,
      Rope.Table table,
      boolean inverse,
      boolean accumulate);

  /** {@link Gelu#forward} (tanh approximation). */
  void geluForward(Tensor out, Tensor inp);

  /** {@link Gelu#backward}. */
  void geluBackward(Tensor dinp, Tensor dout, Tensor inp);

  /** {@link GeluErf#forward} (exact GELU). */
  void geluErfForward(Tensor out, Tensor inp);

  /** {@link GeluErf#backward}. */
  void geluErfBackward(Tensor dinp, Tensor dout, Tensor inp);

  /** {@link QuickGelu#forward} (CLIP's {@code x sigmoid(1.702 x)}). */
  void quickGeluForward(Tensor out, Tensor inp);

  /** {@link QuickGelu#backward}. */
  void quickGeluBackward(Tensor dinp, Tensor dout, Tensor inp);

  /** {@link SwiGlu#forward}. */
  void swiGluForward(Tensor out, Tensor gate, Tensor up);

  /** {@link SwiGlu#backward}. */
  /** {@link SwiGlu#backward}; {@code accumulate} false overwrites {@code dgate} and {@code dup}. */
  void swiGluBackward(
      Tensor dgate, Tensor dup, Tensor dout, Tensor gate, Tensor up, boolean accumulate);

  /** {@link Add#forward}: {@code out = a + b}. */
  void add(Tensor out, Tensor a, Tensor b);

  /** {@link Add#accumulate}: {@code acc += alpha * x}. */
  void accumulate(Tensor acc, Tensor x, float alpha);

  /** {@link Scale#forward}: {@code out = s * inp} (out may be inp). */
  void scale(Tensor out, Tensor inp, float s);

  /** {@link Softmax#forward}. */
  void softmaxForward(Tensor out, Tensor inp);

  /** {@link Softmax#backward}. */
  void softmaxBackward(Tensor dinp, Tensor dout, Tensor out);

  /** {@link AdaptiveAvgPool2d#forward}. */
  void avgPoolForward(Tensor out, Tensor inp, int height, int width, int outHeight, int outWidth);

  /** {@link AdaptiveAvgPool2d#backward}. */
  void avgPoolBackward(
      Tensor dinp, Tensor dout, int height, int width, int outHeight, int outWidth);

  /** {@link CrossEntropy#forwardBackward}; targets already checked. Returns the summed loss. */
  double crossEntropy(
      Tensor dlogits, Tensor logits, int[] targets, int targetOffset, float lossScale);

  /**
   * {@link Attention#forward}. {@code keyStart[b * T + t]} is the first key that query {@code t} of
   * row {@code b} may see (0 everywhere for the continuous mask, the sample's start for the
   * document mask); the last is {@code t} itself.
   */
  void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int[] keyStart);

  /** {@link Attention#backward}, with {@code keyStart} as in forward. */
  void attentionBackward(
      Tensor dq,
      Tensor dk,
      Tensor dv,
      Tensor dout,
      Tensor q,
      Tensor k,
      Tensor v,
      Tensor out,
      Tensor lse,
      int[] keyStart);

  /** {@link BidirectionalAttention#forward}. */
  void bidirectionalAttentionForward(Tensor out, Tensor q, Tensor k, Tensor v);

  /** Sum of squares of all elements, accumulated in at least fp32 per block and double overall. */
  double sumSquares(Tensor x);

  /**
   * One AdamW update of one parameter (see {@code AdamW}): {@code p *= keep}, moments updated from
   * {@code g} (the {@code oneMinus} factors computed in double by the caller, as the CPU does),
   * {@code p -= stepSize * m / (sqrt(v) * rsqrtBias2 + eps)}.
   */
  void adamw(
      Tensor p,
      Tensor g,
      Tensor m,
      Tensor v,
      float beta1,
      float oneMinusBeta1,
      float beta2,
      float oneMinusBeta2,
      float keep,
      float stepSize,
      float rsqrtBias2,
      float eps,
      float gradScale);
}
