package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.cpu.Vec;
import java.util.Arrays;
import java.util.Objects;

/**
 * Causal grouped-query attention over packed rows (Qwen2 self-attention after RoPE): {@code out =
 * softmax(q k^T / sqrt(D) + mask) v} per row and query head, where query head {@code h} reads k/v
 * head {@code h / (Hq / Hkv)}. The mask is causal over the whole row ({@link
 * AttentionMask#CONTINUOUS}) or causal within each sample ({@link AttentionMask#DOCUMENT}).
 *
 * <p>Tensors are token-major, the layout the q/k/v projections produce: q and out {@code [B, T, Hq,
 * D]}, k and v {@code [B, T, Hkv, D]}. Sample boundaries are passed as {@code int[][]
 * sampleStarts}: {@code sampleStarts[b]} lists the offsets at which the samples of row {@code b}
 * begin, increasing, starting with 0, each below T (a row holding samples of 5, 3 and 7 tokens has
 * starts {@code {0, 5, 8}}). Positions that restart per sample are RoPE's business, not this op's.
 *
 * <p>Flash-attention style: forward saves only the log-sum-exp of each (row, head, query)'s scores,
 * {@code [B, Hq, T]}; backward recomputes the probabilities from it, so no {@code T x T} matrix is
 * ever stored. Scores and products are computed a tile at a time (a block of queries against its
 * visible keys) by the kernels in {@link AttentionKernels}; backward computes each tile once and
 * feeds dq, dk and dv from it. Work is split over independent outputs ((row, query head) for out,
 * (row, k/v head) for dk, dv and that head's dq), and every output element is one multiply-add
 * chain in a fixed order, so results are bit-identical for any thread count. Document mode skips
 * the keys of earlier samples.
 *
 * <p>PyTorch: {@code F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
 * v.transpose(1, 2), attn_mask=mask, scale=1/sqrt(D), enable_gqa=True).transpose(1, 2)}, with
 * {@code mask} the causal mask, block-diagonal by sample in document mode.
 */
public final class Attention {
  /** Queries per tile: they share every key loaded for them. */
  static final int QUERY_BLOCK = 32;

  private Attention() {}

  /**
   * @param out [B, T, Hq, D] attention output (overwritten)
   * @param lse [B, Hq, T] saved log-sum-exp of each query's scaled scores, for backward
   * @param q [B, T, Hq, D] queries
   * @param k [B, T, Hkv, D] keys, Hq a multiple of Hkv
   * @param v [B, T, Hkv, D] values
   * @param mask continuous (whole-row causal) or document (causal within each sample)
   * @param sampleStarts [B][samples] start offset of each sample per row (see the class javadoc);
   *     required in document mode, may be null in continuous mode, where it is checked but unused
   */
  public static void forward(
      Tensor out,
      Tensor lse,
      Tensor q,
      Tensor k,
      Tensor v,
      AttentionMask mask,
      int[][] sampleStarts) {
    Dims d = Dims.of(q, k, v);
    out.requireShape("out", d.b, d.t, d.hq, d.d);
    lse.requireShape("lse", d.b, d.hq, d.t);
    Spans spans = Spans.of(mask, sampleStarts, d.b, d.t);
    DeviceKernels device = Ops.deviceKernels(out, lse, q, k, v);
    if (device != null) {
      device.attentionForward(out, lse, q, k, v, spans.keyStart());
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] l = CpuBackend.data(lse);
    float[] qa = CpuBackend.data(q);
    float[] ka = CpuBackend.data(k);
    float[] va = CpuBackend.data(v);
    int oOff = CpuBackend.offset(out);
    int lOff = CpuBackend.offset(lse);
    int qOff = CpuBackend.offset(q);
    int kOff = CpuBackend.offset(k);
    int vOff = CpuBackend.offset(v);
    int t = d.t;
    int dim = d.d;
    int group = d.group();
    float scale = d.scale();
    int lanes = AttentionKernels.lanes();
    int dp = roundUp(dim, lanes);
    int tp = roundUp(t, lanes);
    Parallel.forRange(
        d.b * d.hq,
        1,
        (from, to) -> {
          // Per (row, query head): q packed [T, dp], k transposed [dp, tp], v packed [tp, dp];
          // padding stays zero. s holds a query block's scores, then its probabilities.
          float[] qp = new float[t * dp];
          float[] kt = new float[dp * tp];
          float[] vp = new float[tp * dp];
          float[] s = new float[QUERY_BLOCK * tp];
          float[] acc = new float[QUERY_BLOCK * dp];
          for (int unit = from; unit < to; unit++) {
            int b = unit / d.hq;
            int h = unit % d.hq;
            int g = h / group;
            int[] lo = spans.firstKey[b];
            for (int i = 0; i < t; i++) {
              System.arraycopy(qa, qOff + d.qIndex(b, i, h), qp, i * dp, dim);
              int kj = d.kvIndex(b, i, g);
              System.arraycopy(va, vOff + kj, vp, i * dp, dim);
              for (int x = 0; x < dim; x++) {
                kt[x * tp + i] = ka[kOff + kj + x];
              }
            }
            for (int i0 = 0; i0 < t; i0 += QUERY_BLOCK) {
              int i1 = Math.min(t, i0 + QUERY_BLOCK);
              int n = i1 - i0;
              // Keys [jlo, jhi) cover every visible key of the block, padded to whole vectors.
              int jlo = lo[i0] / lanes * lanes;
              int w = roundUp(i1, lanes) - jlo;
              AttentionKernels.scores(n, w, dim, qp, i0 * dp, dp, kt, jlo, tp, s, 0, tp);
              for (int i = i0; i < i1; i++) {
                int row = (i - i0) * tp;
                l[lOff + d.lseIndex(b, h, i)] =
                    softmaxRow(s, row, row + lo[i] - jlo, row + i - jlo + 1, row + w, scale);
              }
              // out = P v over the block's keys; masked probabilities are exact zeros.
              Arrays.fill(acc, 0, n * dp, 0f);
              AttentionKernels.accumulate(n, dp, 0, w, s, 0, tp, 1, vp, jlo * dp, dp, acc, 0, dp);
              for (int i = i0; i < i1; i++) {
                System.arraycopy(acc, (i - i0) * dp, o, oOff + d.qIndex(b, i, h), dim);
              }
            }
          }
        });
  }

  /**
   * Accumulates the gradients of q, k and v ({@code +=}), recomputing the attention probabilities
   * from {@code lse}.
   *
   * @param dq [B, T, Hq, D] gradient of q (accumulated)
   * @param dk [B, T, Hkv, D] gradient of k (accumulated; sums over each k/v head's query heads)
   * @param dv [B, T, Hkv, D] gradient of v (accumulated)
   * @param dout [B, T, Hq, D] gradient of the output
   * @param q [B, T, Hq, D] forward input
   * @param k [B, T, Hkv, D] forward input
   * @param v [B, T, Hkv, D] forward input
   * @param out [B, T, Hq, D] forward output
   * @param lse [B, Hq, T] saved by forward
   * @param mask as in forward
   * @param sampleStarts as in forward
   */
  public static void backward(
      Tensor dq,
      Tensor dk,
      Tensor dv,
      Tensor dout,
      Tensor q,
      Tensor k,
      Tensor v,
      Tensor out,
      Tensor lse,
      AttentionMask mask,
      int[][] sampleStarts) {
    backward(dq, dk, dv, dout, q, k, v, out, lse, mask, sampleStarts, true);
  }

  /**
   * As {@link #backward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor,
   * AttentionMask, int[][])}, with {@code accumulate} false writing dq, dk and dv over whatever
   * they held (NaN included): first gradients into fresh buffers need no zero fill first.
   */
  public static void backward(
      Tensor dq,
      Tensor dk,
      Tensor dv,
      Tensor dout,
      Tensor q,
      Tensor k,
      Tensor v,
      Tensor out,
      Tensor lse,
      AttentionMask mask,
      int[][] sampleStarts,
      boolean accumulate) {
    Dims d = Dims.of(q, k, v);
    dq.requireShape("dq", d.b, d.t, d.hq, d.d);
    dk.requireShape("dk", d.b, d.t, d.hkv, d.d);
    dv.requireShape("dv", d.b, d.t, d.hkv, d.d);
    dout.requireShape("dout", d.b, d.t, d.hq, d.d);
    out.requireShape("out", d.b, d.t, d.hq, d.d);
    lse.requireShape("lse", d.b, d.hq, d.t);
    Spans spans = Spans.of(mask, sampleStarts, d.b, d.t);
    DeviceKernels device = Ops.deviceKernels(dq, dk, dv, dout, q, k, v, out, lse);
    if (device != null) {
      if (!accumulate) {
        dq.backend().zero(dq);
        dk.backend().zero(dk);
        dv.backend().zero(dv);
      }
      device.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, spans.keyStart());
      return;
    }
    float[] dqa = CpuBackend.data(dq);
    float[] dka = CpuBackend.data(dk);
    float[] dva = CpuBackend.data(dv);
    float[] dy = CpuBackend.data(dout);
    float[] qa = CpuBackend.data(q);
    float[] ka = CpuBackend.data(k);
    float[] va = CpuBackend.data(v);
    float[] o = CpuBackend.data(out);
    float[] l = CpuBackend.data(lse);
    int dqOff = CpuBackend.offset(dq);
    int dkOff = CpuBackend.offset(dk);
    int dvOff = CpuBackend.offset(dv);
    int dyOff = CpuBackend.offset(dout);
    int qOff = CpuBackend.offset(q);
    int kOff = CpuBackend.offset(k);
    int vOff = CpuBackend.offset(v);
    int oOff = CpuBackend.offset(out);
    int lOff = CpuBackend.offset(lse);
    int t = d.t;
    int dim = d.d;
    int group = d.group();
    float scale = d.scale();

    // delta[b, h, i] = dout_i . out_i, the softmax backward's row term, laid out like lse.
    float[] delta = new float[d.b * d.hq * t];
    Parallel.forRange(
        d.b * t,
        Math.max(1, 4096 / (d.hq * dim)),
        (from, to) -> {
          for (int bt = from; bt < to; bt++) {
            int b = bt / t;
            int i = bt % t;
            for (int h = 0; h < d.hq; h++) {
              int qi = d.qIndex(b, i, h);
              delta[d.lseIndex(b, h, i)] = Vec.dot(dy, dyOff + qi, o, oOff + qi, dim);
            }
          }
        });

    // One unit per (row, k/v head): it owns dk and dv of that head and dq of its query heads, so
    // each score tile is computed once and serves dq, dk and dv.
    int lanes = AttentionKernels.lanes();
    int dp = roundUp(dim, lanes);
    int tp = roundUp(t, lanes);
    Parallel.forRange(
        d.b * d.hkv,
        1,
        (from, to) -> {
          float[] kp = new float[tp * dp];
          float[] kt = new float[dp * tp];
          float[] vt = new float[dp * tp];
          float[] qp = new float[t * dp];
          float[] dop = new float[t * dp];
          float[] dkAcc = new float[tp * dp];
          float[] dvAcc = new float[tp * dp];
          float[] dqAcc = new float[QUERY_BLOCK * dp];
          float[] p = new float[QUERY_BLOCK * tp];
          float[] ds = new float[QUERY_BLOCK * tp];
          for (int unit = from; unit < to; unit++) {
            int b = unit / d.hkv;
            int g = unit % d.hkv;
            int[] lo = spans.firstKey[b];
            for (int j = 0; j < t; j++) {
              int kj = d.kvIndex(b, j, g);
              System.arraycopy(ka, kOff + kj, kp, j * dp, dim);
              for (int x = 0; x < dim; x++) {
                kt[x * tp + j] = ka[kOff + kj + x];
                vt[x * tp + j] = va[vOff + kj + x];
              }
            }
            Arrays.fill(dkAcc, 0f);
            Arrays.fill(dvAcc, 0f);
            for (int h = g * group; h < (g + 1) * group; h++) {
              for (int i = 0; i < t; i++) {
                int qi = d.qIndex(b, i, h);
                System.arraycopy(qa, qOff + qi, qp, i * dp, dim);
                System.arraycopy(dy, dyOff + qi, dop, i * dp, dim);
              }
              for (int i0 = 0; i0 < t; i0 += QUERY_BLOCK) {
                int i1 = Math.min(t, i0 + QUERY_BLOCK);
                int n = i1 - i0;
                int jlo = lo[i0] / lanes * lanes;
                int w = roundUp(i1, lanes) - jlo;
                AttentionKernels.scores(n, w, dim, qp, i0 * dp, dp, kt, jlo, tp, p, 0, tp);
                AttentionKernels.scores(n, w, dim, dop, i0 * dp, dp, vt, jlo, tp, ds, 0, tp);
                // p = exp(q.k * scale - lse), ds = p (dout.v - delta); exact zeros where masked.
                for (int i = i0; i < i1; i++) {
                  int row = (i - i0) * tp;
                  int li = d.lseIndex(b, h, i);
                  gradRow(
                      p,
                      ds,
                      row,
                      row + lo[i] - jlo,
                      row + i - jlo + 1,
                      row + w,
                      scale,
                      l[lOff + li],
                      delta[li]);
                }
                // dq += scale * ds k; dk += scale * ds^T q; dv += p^T dout.
                Arrays.fill(dqAcc, 0, n * dp, 0f);
                AttentionKernels.accumulate(
                    n, dp, 0, w, ds, 0, tp, 1, kp, jlo * dp, dp, dqAcc, 0, dp);
                for (int i = i0; i < i1; i++) {
                  // Each dq row is written here once: by this unit, for this head and block.
                  add(accumulate, scale, dqAcc, (i - i0) * dp, dqa, dqOff + d.qIndex(b, i, h), dim);
                }
                AttentionKernels.accumulate(
                    w, dp, 0, n, ds, 0, 1, tp, qp, i0 * dp, dp, dkAcc, jlo * dp, dp);
                AttentionKernels.accumulate(
                    w, dp, 0, n, p, 0, 1, tp, dop, i0 * dp, dp, dvAcc, jlo * dp, dp);
              }
            }
            for (int j = 0; j < t; j++) {
              int kj = d.kvIndex(b, j, g);
              add(accumulate, scale, dkAcc, j * dp, dka, dkOff + kj, dim);
              add(accumulate, 1f, dvAcc, j * dp, dva, dvOff + kj, dim);
            }
          }
        });
  }

  /**
   * {@code y += alpha * x} over {@code n} elements, or {@code y = 0 + alpha * x} (the same value a
   * zero-filled y would get) when not accumulating.
   */
  private static void add(
      boolean accumulate, float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
    if (!accumulate) {
      Arrays.fill(y, yOff, yOff + n, 0f);
    }
    Vec.axpy(alpha, x, xOff, y, yOff, n);
  }

  /**
   * Softmax of the scaled scores {@code s[first, end)} in place, zeros in {@code [row, first)} and
   * {@code [end, rowEnd)}; returns the log-sum-exp.
   */
  private static float softmaxRow(float[] s, int row, int first, int end, int rowEnd, float scale) {
    float max = AttentionKernels.max(s, first, end) * scale;
    AttentionKernels.exp(s, row, rowEnd - row, scale, max);
    Arrays.fill(s, row, first, 0f);
    Arrays.fill(s, end, rowEnd, 0f);
    float sum = AttentionKernels.sum(s, first, end);
    float inv = 1f / sum;
    for (int c = first; c < end; c++) {
      s[c] *= inv;
    }
    return max + (float) Math.log(sum);
  }

  /**
   * {@code p = exp(s * scale - lse)} from the raw scores in {@code p}, then {@code ds = p (dp -
   * delta)} from {@code dout . v} in {@code ds}, over {@code [first, end)}; zeros elsewhere in
   * {@code [row, rowEnd)}.
   */
  private static void gradRow(
      float[] p,
      float[] ds,
      int row,
      int first,
      int end,
      int rowEnd,
      float scale,
      float lse,
      float delta) {
    AttentionKernels.exp(p, row, rowEnd - row, scale, lse);
    Arrays.fill(p, row, first, 0f);
    Arrays.fill(p, end, rowEnd, 0f);
    Arrays.fill(ds, row, first, 0f);
    Arrays.fill(ds, end, rowEnd, 0f);
    for (int c = first; c < end; c++) {
      ds[c] = p[c] * (ds[c] - delta);
    }
  }

  private static int roundUp(int n, int multiple) {
    return (n + multiple - 1) / multiple * multiple;
  }

  /** Sizes read from q, k and v, and index helpers for the token-major layouts. */
  private record Dims(int b, int t, int hq, int hkv, int d) {
    static Dims of(Tensor q, Tensor k, Tensor v) {
      if (q.rank() != 4) {
        throw new IllegalArgumentException(
            "q has shape " + Arrays.toString(q.shape()) + ", expected [B, T, Hq, D]");
      }
      if (k.rank() != 4) {
        throw new IllegalArgumentException(
            "k has shape " + Arrays.toString(k.shape()) + ", expected [B, T, Hkv, D]");
      }
      Dims dims = new Dims(q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3));
      k.requireShape("k", dims.b, dims.t, dims.hkv, dims.d);
      v.requireShape("v", dims.b, dims.t, dims.hkv, dims.d);
      if (dims.hkv == 0 || dims.hq % dims.hkv != 0) {
        throw new IllegalArgumentException(
            "q heads (Hq = "
                + dims.hq
                + ") must be a positive multiple of k/v heads (Hkv = "
                + dims.hkv
                + ")");
      }
      if (dims.d == 0) {
        throw new IllegalArgumentException("head dimension D of q must be positive");
      }
      return dims;
    }

    int group() {
      return hq / hkv;
    }

    float scale() {
      return (float) (1.0 / Math.sqrt(d));
    }

    int qIndex(int row, int token, int head) {
      return ((row * t + token) * hq + head) * d;
    }

    int kvIndex(int row, int token, int head) {
      return ((row * t + token) * hkv + head) * d;
    }

    int lseIndex(int row, int head, int token) {
      return (row * hq + head) * t + token;
    }
  }

  /**
   * The visible span of each token: query i of row b sees keys {@code [firstKey[b][i], i]}; key j
   * is seen by queries {@code [j, endQuery[b][j])}.
   */
  private record Spans(int[][] firstKey, int[][] endQuery) {
    /** {@link #firstKey} flattened row after row: the form device kernels read. */
    int[] keyStart() {
      int t = firstKey.length == 0 ? 0 : firstKey[0].length;
      int[] flat = new int[firstKey.length * t];
      for (int b = 0; b < firstKey.length; b++) {
        System.arraycopy(firstKey[b], 0, flat, b * t, t);
      }
      return flat;
    }

    static Spans of(AttentionMask mask, int[][] sampleStarts, int rows, int t) {
      Objects.requireNonNull(mask, "mask");
      if (sampleStarts == null) {
        if (mask == AttentionMask.DOCUMENT) {
          throw new IllegalArgumentException("sampleStarts is required for DOCUMENT masks");
        }
      } else {
        checkStarts(sampleStarts, rows, t);
      }
      int[][] first = new int[rows][t];
      int[][] end = new int[rows][t];
      for (int b = 0; b < rows; b++) {
        if (mask == AttentionMask.CONTINUOUS) {
          Arrays.fill(end[b], t);
          continue;
        }
        int[] starts = sampleStarts[b];
        for (int s = 0; s < starts.length; s++) {
          int from = starts[s];
          int to = s + 1 < starts.length ? starts[s + 1] : t;
          Arrays.fill(first[b], from, to, from);
          Arrays.fill(end[b], from, to, to);
        }
      }
      return new Spans(first, end);
    }

    private static void checkStarts(int[][] sampleStarts, int rows, int t) {
      if (sampleStarts.length != rows) {
        throw new IllegalArgumentException(
            "sampleStarts has " + sampleStarts.length + " rows, expected B = " + rows);
      }
      for (int b = 0; b < rows; b++) {
        int[] starts = sampleStarts[b];
        if (t == 0) {
          continue;
        }
        if (starts == null || starts.length == 0 || starts[0] != 0) {
          throw new IllegalArgumentException(
              "sampleStarts[" + b + "] must begin with 0, got " + Arrays.toString(starts));
        }
        for (int s = 1; s < starts.length; s++) {
          if (starts[s] <= starts[s - 1] || starts[s] >= t) {
            throw new IllegalArgumentException(
                "sampleStarts["
                    + b
                    + "] must increase within [0, T = "
                    + t
                    + "), got "
                    + Arrays.toString(starts));
          }
        }
      }
    }
  }
}
