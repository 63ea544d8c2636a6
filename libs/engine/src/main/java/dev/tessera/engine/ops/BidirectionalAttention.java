package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.cpu.Vec;
import java.util.Arrays;

/**
 * Full (unmasked) multi-head self-attention, forward only: every query sees every key of its row,
 * as in the SigLIP vision encoder. {@code out = softmax(q k^T / sqrt(D)) v} per row and query head,
 * where query head {@code h} reads k/v head {@code h / (Hq / Hkv)} (Hq = Hkv for SigLIP).
 *
 * <p>Tensors are token-major, the layout the q/k/v projections produce: q and out {@code [B, T, Hq,
 * D]}, k and v {@code [B, T, Hkv, D]}. The softmax subtracts each query's maximum score. Work is
 * split over (row, query head, block of queries), each output having one writer, so results are
 * bit-identical for any thread count. Extra memory: a {@code 32 x T} score block per thread.
 *
 * <p>There is no backward: the tower that uses it is frozen. {@link Attention} is the causal,
 * trainable counterpart.
 *
 * <p>PyTorch: {@code F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
 * v.transpose(1, 2)).transpose(1, 2)} (with {@code enable_gqa=True} when Hq != Hkv).
 */
public final class BidirectionalAttention {
  /** Queries per work unit: they share every key row loaded for them. */
  static final int QUERY_BLOCK = 32;

  /** Keys per inner block, small enough for their rows to stay in L1/L2 across a query block. */
  static final int KEY_BLOCK = 64;

  private BidirectionalAttention() {}

  /**
   * @param out [B, T, Hq, D] attention output (overwritten; must not alias q, k or v)
   * @param q [B, T, Hq, D] queries
   * @param k [B, T, Hkv, D] keys, Hq a multiple of Hkv
   * @param v [B, T, Hkv, D] values
   */
  public static void forward(Tensor out, Tensor q, Tensor k, Tensor v) {
    if (q.rank() != 4) {
      throw new IllegalArgumentException(
          "q has shape " + Arrays.toString(q.shape()) + ", expected [B, T, Hq, D]");
    }
    if (k.rank() != 4) {
      throw new IllegalArgumentException(
          "k has shape " + Arrays.toString(k.shape()) + ", expected [B, T, Hkv, D]");
    }
    int b = q.dim(0);
    int t = q.dim(1);
    int hq = q.dim(2);
    int dim = q.dim(3);
    int hkv = k.dim(2);
    k.requireShape("k", b, t, hkv, dim);
    v.requireShape("v", b, t, hkv, dim);
    out.requireShape("out", b, t, hq, dim);
    if (hkv == 0 || hq % hkv != 0) {
      throw new IllegalArgumentException(
          "q heads (Hq = " + hq + ") must be a positive multiple of k/v heads (Hkv = " + hkv + ")");
    }
    if (dim == 0) {
      throw new IllegalArgumentException("head dimension D of q must be positive");
    }
    DeviceKernels device = Ops.deviceKernels(out, q, k, v);
    if (device != null) {
      device.bidirectionalAttentionForward(out, q, k, v);
      return;
    }
    if (t == 0 || b == 0) {
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] qa = CpuBackend.data(q);
    float[] ka = CpuBackend.data(k);
    float[] va = CpuBackend.data(v);
    int oOff = CpuBackend.offset(out);
    int qOff = CpuBackend.offset(q);
    int kOff = CpuBackend.offset(k);
    int vOff = CpuBackend.offset(v);
    int group = hq / hkv;
    int qBlocks = (t + QUERY_BLOCK - 1) / QUERY_BLOCK;
    float scale = (float) (1.0 / Math.sqrt(dim));
    Parallel.forRange(
        b * hq * qBlocks,
        1,
        (from, to) -> {
          float[] s = new float[QUERY_BLOCK * t];
          for (int unit = from; unit < to; unit++) {
            int row = unit / (hq * qBlocks);
            int h = unit / qBlocks % hq;
            int i0 = unit % qBlocks * QUERY_BLOCK;
            int i1 = Math.min(t, i0 + QUERY_BLOCK);
            int g = h / group;
            // Scores s[i - i0][j] for all keys j, a key block at a time.
            for (int j0 = 0; j0 < t; j0 += KEY_BLOCK) {
              int j1 = Math.min(t, j0 + KEY_BLOCK);
              for (int i = i0; i < i1; i++) {
                int qi = qOff + ((row * t + i) * hq + h) * dim;
                int base = (i - i0) * t;
                for (int j = j0; j < j1; j++) {
                  int kj = kOff + ((row * t + j) * hkv + g) * dim;
                  s[base + j] = Vec.dot(qa, qi, ka, kj, dim) * scale;
                }
              }
            }
            // Softmax per query, max-subtracted; probabilities replace the scores.
            for (int i = i0; i < i1; i++) {
              int base = (i - i0) * t;
              float max = Float.NEGATIVE_INFINITY;
              for (int j = 0; j < t; j++) {
                max = Math.max(max, s[base + j]);
              }
              float sum = 0;
              for (int j = 0; j < t; j++) {
                float p = (float) Math.exp(s[base + j] - max);
                s[base + j] = p;
                sum += p;
              }
              float inv = 1f / sum;
              for (int j = 0; j < t; j++) {
                s[base + j] *= inv;
              }
              int oi = oOff + ((row * t + i) * hq + h) * dim;
              Arrays.fill(o, oi, oi + dim, 0f);
            }
            // out[i] = sum over j of p[i][j] v[j], a key block at a time.
            for (int j0 = 0; j0 < t; j0 += KEY_BLOCK) {
              int j1 = Math.min(t, j0 + KEY_BLOCK);
              for (int i = i0; i < i1; i++) {
                int oi = oOff + ((row * t + i) * hq + h) * dim;
                int base = (i - i0) * t;
                for (int j = j0; j < j1; j++) {
                  Vec.axpy(s[base + j], va, vOff + ((row * t + j) * hkv + g) * dim, o, oi, dim);
                }
              }
            }
          }
        });
  }
}
