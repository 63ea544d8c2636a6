package dev.tessera.engine.ops;

import dev.tessera.engine.cpu.Vec;
import dev.tessera.engine.cpu.simd.SimdAttention;

/**
 * The tile kernels of {@link Attention}: {@code cpu.simd.SimdAttention} when the Vector API is
 * present, plain loops with the same contracts otherwise. In both, every output element is one
 * chain of multiply-adds over its reduction index in ascending order, independent of the tiling.
 */
final class AttentionKernels {
  /** Use the Vector API kernels; tests switch it off to check the plain loops. */
  static boolean simd = Vec.SIMD;

  private AttentionKernels() {}

  /** Column counts are padded to multiples of this. */
  static int lanes() {
    return simd ? SimdAttention.lanes() : 1;
  }

  /** {@code s[r * lds + c] = sum_p a[r * lda + p] * b[p * ldb + c]}, r < rows, c < cols. */
  static void scores(
      int rows,
      int cols,
      int depth,
      float[] a,
      int aOff,
      int lda,
      float[] b,
      int bOff,
      int ldb,
      float[] s,
      int sOff,
      int lds) {
    if (simd) {
      SimdAttention.scores(rows, cols, depth, a, aOff, lda, b, bOff, ldb, s, sOff, lds);
      return;
    }
    for (int r = 0; r < rows; r++) {
      int si = sOff + r * lds;
      java.util.Arrays.fill(s, si, si + cols, 0f);
      for (int p = 0; p < depth; p++) {
        float x = a[aOff + r * lda + p];
        int bp = bOff + p * ldb;
        for (int c = 0; c < cols; c++) {
          s[si + c] += x * b[bp + c];
        }
      }
    }
  }

  /**
   * {@code c[r * ldc + j] += sum_{p in [from, to)} w[wOff + r * wr + p * wp] * x[xOff + p * ldx +
   * j]}, r < rows, j < cols.
   */
  static void accumulate(
      int rows,
      int cols,
      int from,
      int to,
      float[] w,
      int wOff,
      int wr,
      int wp,
      float[] x,
      int xOff,
      int ldx,
      float[] c,
      int cOff,
      int ldc) {
    if (simd) {
      SimdAttention.accumulate(rows, cols, from, to, w, wOff, wr, wp, x, xOff, ldx, c, cOff, ldc);
      return;
    }
    for (int r = 0; r < rows; r++) {
      int ci = cOff + r * ldc;
      for (int p = from; p < to; p++) {
        float y = w[wOff + r * wr + p * wp];
        int xp = xOff + p * ldx;
        for (int j = 0; j < cols; j++) {
          c[ci + j] += y * x[xp + j];
        }
      }
    }
  }

  /** The largest of {@code x[from, to)}. */
  static float max(float[] x, int from, int to) {
    if (simd) {
      return SimdAttention.max(x, from, to);
    }
    float max = Float.NEGATIVE_INFINITY;
    for (int i = from; i < to; i++) {
      max = Math.max(max, x[i]);
    }
    return max;
  }

  /** The sum of {@code x[from, to)}, in an order fixed relative to {@code from}. */
  static float sum(float[] x, int from, int to) {
    if (simd) {
      return SimdAttention.sum(x, from, to);
    }
    float sum = 0;
    for (int i = from; i < to; i++) {
      sum += x[i];
    }
    return sum;
  }

  /** {@code x[i] = exp(x[i] * scale - shift)} for {@code n} elements. */
  static void exp(float[] x, int off, int n, float scale, float shift) {
    if (simd) {
      SimdAttention.exp(x, off, n, scale, shift);
      return;
    }
    for (int i = off; i < off + n; i++) {
      x[i] = (float) Math.exp(x[i] * scale - shift);
    }
  }
}
