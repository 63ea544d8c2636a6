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
 * ever stored. Work is split over independent outputs (queries for out and dq, keys of one k/v head
 * for dk and dv), so results are bit-identical for any thread count. Document mode visits only the
 * keys of each query's own sample.
 *
 * <p>PyTorch: {@code F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
 * v.transpose(1, 2), attn_mask=mask, scale=1/sqrt(D), enable_gqa=True).transpose(1, 2)}, with
 * {@code mask} the causal mask, block-diagonal by sample in document mode.
 */
public final class Attention {
  /** Queries per work unit: they share every key block loaded for them. */
  static final int QUERY_BLOCK = 32;

  /** Keys per inner block, small enough for their rows to stay in L1/L2 across a query block. */
  static final int KEY_BLOCK = 64;

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
    Ops.requireCpu(out, lse, q, k, v);
    Spans spans = Spans.of(mask, sampleStarts, d.b, d.t);
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
    int qBlocks = (t + QUERY_BLOCK - 1) / QUERY_BLOCK;
    float scale = d.scale();
    Parallel.forRange(
        d.b * d.hq * qBlocks,
        1,
        (from, to) -> {
          float[] s = new float[QUERY_BLOCK * t];
          for (int unit = from; unit < to; unit++) {
            int b = unit / (d.hq * qBlocks);
            int h = unit / qBlocks % d.hq;
            int i0 = unit % qBlocks * QUERY_BLOCK;
            int i1 = Math.min(t, i0 + QUERY_BLOCK);
            int g = h / d.group();
            int[] lo = spans.firstKey[b];
            // Scores s[i - i0][j] for the visible keys j in [lo[i], i], a key block at a time.
            for (int j0 = lo[i0]; j0 < i1; j0 += KEY_BLOCK) {
              int j1 = Math.min(i1, j0 + KEY_BLOCK);
              for (int i = i0; i < i1; i++) {
                int qi = qOff + d.qIndex(b, i, h);
                int row = (i - i0) * t;
                for (int j = Math.max(j0, lo[i]), end = Math.min(j1, i + 1); j < end; j++) {
                  s[row + j] = Vec.dot(qa, qi, ka, kOff + d.kvIndex(b, j, g), dim) * scale;
                }
              }
            }
            // Softmax per query; probabilities replace the scores.
            for (int i = i0; i < i1; i++) {
              int row = (i - i0) * t;
              float max = Float.NEGATIVE_INFINITY;
              for (int j = lo[i]; j <= i; j++) {
                max = Math.max(max, s[row + j]);
              }
              float sum = 0;
              for (int j = lo[i]; j <= i; j++) {
                float p = (float) Math.exp(s[row + j] - max);
                s[row + j] = p;
                sum += p;
              }
              l[lOff + d.lseIndex(b, h, i)] = max + (float) Math.log(sum);
              float inv = 1f / sum;
              for (int j = lo[i]; j <= i; j++) {
                s[row + j] *= inv;
              }
              int oi = oOff + d.qIndex(b, i, h);
              Arrays.fill(o, oi, oi + dim, 0f);
            }
            // out[i] = sum over j of p[i][j] v[j], a key block at a time.
            for (int j0 = lo[i0]; j0 < i1; j0 += KEY_BLOCK) {
              int j1 = Math.min(i1, j0 + KEY_BLOCK);
              for (int i = i0; i < i1; i++) {
                int oi = oOff + d.qIndex(b, i, h);
                int row = (i - i0) * t;
                for (int j = Math.max(j0, lo[i]), end = Math.min(j1, i + 1); j < end; j++) {
                  Vec.axpy(s[row + j], va, vOff + d.kvIndex(b, j, g), o, oi, dim);
                }
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
    Dims d = Dims.of(q, k, v);
    dq.requireShape("dq", d.b, d.t, d.hq, d.d);
    dk.requireShape("dk", d.b, d.t, d.hkv, d.d);
    dv.requireShape("dv", d.b, d.t, d.hkv, d.d);
    dout.requireShape("dout", d.b, d.t, d.hq, d.d);
    out.requireShape("out", d.b, d.t, d.hq, d.d);
    lse.requireShape("lse", d.b, d.hq, d.t);
    Ops.requireCpu(dq, dk, dv, dout, q, k, v, out, lse);
    Spans spans = Spans.of(mask, sampleStarts, d.b, d.t);
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

    // dq[i] += scale * sum over j of p_ij (dout_i . v_j - delta_i) k_j: one writer per query.
    int qBlocks = (t + QUERY_BLOCK - 1) / QUERY_BLOCK;
    Parallel.forRange(
        d.b * d.hq * qBlocks,
        1,
        (from, to) -> {
          for (int unit = from; unit < to; unit++) {
            int b = unit / (d.hq * qBlocks);
            int h = unit / qBlocks % d.hq;
            int i0 = unit % qBlocks * QUERY_BLOCK;
            int i1 = Math.min(t, i0 + QUERY_BLOCK);
            int g = h / group;
            int[] lo = spans.firstKey[b];
            for (int j0 = lo[i0]; j0 < i1; j0 += KEY_BLOCK) {
              int j1 = Math.min(i1, j0 + KEY_BLOCK);
              for (int i = i0; i < i1; i++) {
                int qi = d.qIndex(b, i, h);
                float lseI = l[lOff + d.lseIndex(b, h, i)];
                float deltaI = delta[d.lseIndex(b, h, i)];
                for (int j = Math.max(j0, lo[i]), end = Math.min(j1, i + 1); j < end; j++) {
                  int kj = d.kvIndex(b, j, g);
                  float p =
                      (float) Math.exp(Vec.dot(qa, qOff + qi, ka, kOff + kj, dim) * scale - lseI);
                  float dp = Vec.dot(dy, dyOff + qi, va, vOff + kj, dim);
                  Vec.axpy(p * (dp - deltaI) * scale, ka, kOff + kj, dqa, dqOff + qi, dim);
                }
              }
            }
          }
        });

    // dk[j] += scale * sum over (h, i) of ds_ij q_i and dv[j] += sum of p_ij dout_i, over the
    // query heads h of j's k/v head and the queries i that see j: one writer per key.
    int kBlocks = (t + KEY_BLOCK - 1) / KEY_BLOCK;
    Parallel.forRange(
        d.b * d.hkv * kBlocks,
        1,
        (from, to) -> {
          float[] dkAcc = new float[KEY_BLOCK * dim];
          float[] dvAcc = new float[KEY_BLOCK * dim];
          for (int unit = from; unit < to; unit++) {
            int b = unit / (d.hkv * kBlocks);
            int g = unit / kBlocks % d.hkv;
            int j0 = unit % kBlocks * KEY_BLOCK;
            int j1 = Math.min(t, j0 + KEY_BLOCK);
            int[] hi = spans.endQuery[b];
            Arrays.fill(dkAcc, 0f);
            Arrays.fill(dvAcc, 0f);
            for (int h = g * group; h < (g + 1) * group; h++) {
              for (int i0 = j0; i0 < hi[j1 - 1]; i0 += QUERY_BLOCK) {
                int i1 = Math.min(hi[j1 - 1], i0 + QUERY_BLOCK);
                for (int j = j0; j < j1; j++) {
                  int kj = d.kvIndex(b, j, g);
                  int acc = (j - j0) * dim;
                  for (int i = Math.max(i0, j), end = Math.min(i1, hi[j]); i < end; i++) {
                    int qi = d.qIndex(b, i, h);
                    float p =
                        (float)
                            Math.exp(
                                Vec.dot(qa, qOff + qi, ka, kOff + kj, dim) * scale
                                    - l[lOff + d.lseIndex(b, h, i)]);
                    float dp = Vec.dot(dy, dyOff + qi, va, vOff + kj, dim);
                    float ds = p * (dp - delta[d.lseIndex(b, h, i)]);
                    Vec.axpy(p, dy, dyOff + qi, dvAcc, acc, dim);
                    Vec.axpy(ds * scale, qa, qOff + qi, dkAcc, acc, dim);
                  }
                }
              }
            }
            for (int j = j0; j < j1; j++) {
              int kj = d.kvIndex(b, j, g);
              Vec.axpy(1f, dkAcc, (j - j0) * dim, dka, dkOff + kj, dim);
              Vec.axpy(1f, dvAcc, (j - j0) * dim, dva, dvOff + kj, dim);
            }
          }
        });
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
