package dev.tessera.engine.cpu.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API tile kernels of {@code ops.Attention}: score tiles {@code S = A B} with B packed
 * key-major-transposed (one lane per key), accumulation tiles {@code C += P X} (one lane per head
 * dimension) and an element-wise {@code exp}. Every output element is one FMA chain over its
 * reduction index in ascending order, whatever tile or lane it falls in, so results do not depend
 * on how the caller cuts the work. Only {@code ops.AttentionKernels} calls these, and only when the
 * {@code jdk.incubator.vector} module is present. Column counts are multiples of {@link #lanes()};
 * callers pad their buffers.
 */
public final class SimdAttention {
  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
  private static final int LANES = SPECIES.length();

  private SimdAttention() {}

  /** Floats per vector: the padding unit of every column count. */
  public static int lanes() {
    return LANES;
  }

  /**
   * {@code s[r * lds + c] = sum_p a[r * lda + p] * b[p * ldb + c]} for {@code r < rows}, {@code c <
   * cols} ({@code cols} a multiple of the lane count), each a chain of FMAs in {@code p} order.
   */
  public static void scores(
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
    int r = 0;
    // Eight rows at a time: 16 accumulators give the FMA units independent chains to overlap.
    for (; r + 8 <= rows; r += 8) {
      int a0 = aOff + r * lda;
      int s0 = sOff + r * lds;
      for (int c = 0; c + 2 * LANES <= cols; c += 2 * LANES) {
        FloatVector c00 = FloatVector.zero(SPECIES);
        FloatVector c01 = FloatVector.zero(SPECIES);
        FloatVector c10 = FloatVector.zero(SPECIES);
        FloatVector c11 = FloatVector.zero(SPECIES);
        FloatVector c20 = FloatVector.zero(SPECIES);
        FloatVector c21 = FloatVector.zero(SPECIES);
        FloatVector c30 = FloatVector.zero(SPECIES);
        FloatVector c31 = FloatVector.zero(SPECIES);
        FloatVector c40 = FloatVector.zero(SPECIES);
        FloatVector c41 = FloatVector.zero(SPECIES);
        FloatVector c50 = FloatVector.zero(SPECIES);
        FloatVector c51 = FloatVector.zero(SPECIES);
        FloatVector c60 = FloatVector.zero(SPECIES);
        FloatVector c61 = FloatVector.zero(SPECIES);
        FloatVector c70 = FloatVector.zero(SPECIES);
        FloatVector c71 = FloatVector.zero(SPECIES);
        for (int p = 0; p < depth; p++) {
          int bp = bOff + p * ldb + c;
          FloatVector b0 = FloatVector.fromArray(SPECIES, b, bp);
          FloatVector b1 = FloatVector.fromArray(SPECIES, b, bp + LANES);
          FloatVector x = FloatVector.broadcast(SPECIES, a[a0 + p]);
          c00 = x.fma(b0, c00);
          c01 = x.fma(b1, c01);
          x = FloatVector.broadcast(SPECIES, a[a0 + lda + p]);
          c10 = x.fma(b0, c10);
          c11 = x.fma(b1, c11);
          x = FloatVector.broadcast(SPECIES, a[a0 + 2 * lda + p]);
          c20 = x.fma(b0, c20);
          c21 = x.fma(b1, c21);
          x = FloatVector.broadcast(SPECIES, a[a0 + 3 * lda + p]);
          c30 = x.fma(b0, c30);
          c31 = x.fma(b1, c31);
          x = FloatVector.broadcast(SPECIES, a[a0 + 4 * lda + p]);
          c40 = x.fma(b0, c40);
          c41 = x.fma(b1, c41);
          x = FloatVector.broadcast(SPECIES, a[a0 + 5 * lda + p]);
          c50 = x.fma(b0, c50);
          c51 = x.fma(b1, c51);
          x = FloatVector.broadcast(SPECIES, a[a0 + 6 * lda + p]);
          c60 = x.fma(b0, c60);
          c61 = x.fma(b1, c61);
          x = FloatVector.broadcast(SPECIES, a[a0 + 7 * lda + p]);
          c70 = x.fma(b0, c70);
          c71 = x.fma(b1, c71);
        }
        c00.intoArray(s, s0 + c);
        c01.intoArray(s, s0 + c + LANES);
        c10.intoArray(s, s0 + lds + c);
        c11.intoArray(s, s0 + lds + c + LANES);
        c20.intoArray(s, s0 + 2 * lds + c);
        c21.intoArray(s, s0 + 2 * lds + c + LANES);
        c30.intoArray(s, s0 + 3 * lds + c);
        c31.intoArray(s, s0 + 3 * lds + c + LANES);
        c40.intoArray(s, s0 + 4 * lds + c);
        c41.intoArray(s, s0 + 4 * lds + c + LANES);
        c50.intoArray(s, s0 + 5 * lds + c);
        c51.intoArray(s, s0 + 5 * lds + c + LANES);
        c60.intoArray(s, s0 + 6 * lds + c);
        c61.intoArray(s, s0 + 6 * lds + c + LANES);
        c70.intoArray(s, s0 + 7 * lds + c);
        c71.intoArray(s, s0 + 7 * lds + c + LANES);
      }
      if (cols % (2 * LANES) != 0) {
        // The last single vector of columns: as four-row halves.
        int c = cols - LANES;
        scores4x1(a, a0, lda, b, bOff + c, ldb, depth, s, s0 + c, lds);
        scores4x1(a, a0 + 4 * lda, lda, b, bOff + c, ldb, depth, s, s0 + 4 * lds + c, lds);
      }
    }
    // The rest (callers' row counts are mostly multiples of 8): four rows against one vector of
    // columns at a time, then row by row.
    for (; r + 4 <= rows; r += 4) {
      for (int c = 0; c < cols; c += LANES) {
        scores4x1(a, aOff + r * lda, lda, b, bOff + c, ldb, depth, s, sOff + r * lds + c, lds);
      }
    }
    for (; r < rows; r++) {
      int a0 = aOff + r * lda;
      int s0 = sOff + r * lds;
      for (int c = 0; c < cols; c += LANES) {
        FloatVector c0 = FloatVector.zero(SPECIES);
        for (int p = 0; p < depth; p++) {
          c0 =
              FloatVector.broadcast(SPECIES, a[a0 + p])
                  .fma(FloatVector.fromArray(SPECIES, b, bOff + p * ldb + c), c0);
        }
        c0.intoArray(s, s0 + c);
      }
    }
  }

  /** Four rows of scores against one vector of columns (from {@code b[bOff]}, {@code s[sOff]}). */
  private static void scores4x1(
      float[] a,
      int a0,
      int lda,
      float[] b,
      int bOff,
      int ldb,
      int depth,
      float[] s,
      int sOff,
      int lds) {
    FloatVector c0 = FloatVector.zero(SPECIES);
    FloatVector c1 = FloatVector.zero(SPECIES);
    FloatVector c2 = FloatVector.zero(SPECIES);
    FloatVector c3 = FloatVector.zero(SPECIES);
    for (int p = 0; p < depth; p++) {
      FloatVector b0 = FloatVector.fromArray(SPECIES, b, bOff + p * ldb);
      c0 = FloatVector.broadcast(SPECIES, a[a0 + p]).fma(b0, c0);
      c1 = FloatVector.broadcast(SPECIES, a[a0 + lda + p]).fma(b0, c1);
      c2 = FloatVector.broadcast(SPECIES, a[a0 + 2 * lda + p]).fma(b0, c2);
      c3 = FloatVector.broadcast(SPECIES, a[a0 + 3 * lda + p]).fma(b0, c3);
    }
    c0.intoArray(s, sOff);
    c1.intoArray(s, sOff + lds);
    c2.intoArray(s, sOff + 2 * lds);
    c3.intoArray(s, sOff + 3 * lds);
  }

  /**
   * {@code c[r * ldc + j] += sum_{p in [from, to)} w[wOff + r * wr + p * wp] * x[p * ldx + j]} for
   * {@code r < rows}, {@code j < cols} (a multiple of the lane count): each element continues its
   * FMA chain in {@code p} order. Strides {@code wr, wp} let {@code w} be read transposed.
   */
  public static void accumulate(
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
    int r = 0;
    // Eight rows at a time: 16 accumulators give the FMA units independent chains to overlap.
    for (; r + 8 <= rows; r += 8) {
      int w0 = wOff + r * wr;
      int c0 = cOff + r * ldc;
      int j = 0;
      for (; j + 2 * LANES <= cols; j += 2 * LANES) {
        int cj = c0 + j;
        FloatVector c00 = FloatVector.fromArray(SPECIES, c, cj);
        FloatVector c01 = FloatVector.fromArray(SPECIES, c, cj + LANES);
        FloatVector c10 = FloatVector.fromArray(SPECIES, c, cj + ldc);
        FloatVector c11 = FloatVector.fromArray(SPECIES, c, cj + ldc + LANES);
        FloatVector c20 = FloatVector.fromArray(SPECIES, c, cj + 2 * ldc);
        FloatVector c21 = FloatVector.fromArray(SPECIES, c, cj + 2 * ldc + LANES);
        FloatVector c30 = FloatVector.fromArray(SPECIES, c, cj + 3 * ldc);
        FloatVector c31 = FloatVector.fromArray(SPECIES, c, cj + 3 * ldc + LANES);
        FloatVector c40 = FloatVector.fromArray(SPECIES, c, cj + 4 * ldc);
        FloatVector c41 = FloatVector.fromArray(SPECIES, c, cj + 4 * ldc + LANES);
        FloatVector c50 = FloatVector.fromArray(SPECIES, c, cj + 5 * ldc);
        FloatVector c51 = FloatVector.fromArray(SPECIES, c, cj + 5 * ldc + LANES);
        FloatVector c60 = FloatVector.fromArray(SPECIES, c, cj + 6 * ldc);
        FloatVector c61 = FloatVector.fromArray(SPECIES, c, cj + 6 * ldc + LANES);
        FloatVector c70 = FloatVector.fromArray(SPECIES, c, cj + 7 * ldc);
        FloatVector c71 = FloatVector.fromArray(SPECIES, c, cj + 7 * ldc + LANES);
        for (int p = from; p < to; p++) {
          int xp = xOff + p * ldx + j;
          int wq = w0 + p * wp;
          FloatVector x0 = FloatVector.fromArray(SPECIES, x, xp);
          FloatVector x1 = FloatVector.fromArray(SPECIES, x, xp + LANES);
          FloatVector y = FloatVector.broadcast(SPECIES, w[wq]);
          c00 = y.fma(x0, c00);
          c01 = y.fma(x1, c01);
          y = FloatVector.broadcast(SPECIES, w[wq + wr]);
          c10 = y.fma(x0, c10);
          c11 = y.fma(x1, c11);
          y = FloatVector.broadcast(SPECIES, w[wq + 2 * wr]);
          c20 = y.fma(x0, c20);
          c21 = y.fma(x1, c21);
          y = FloatVector.broadcast(SPECIES, w[wq + 3 * wr]);
          c30 = y.fma(x0, c30);
          c31 = y.fma(x1, c31);
          y = FloatVector.broadcast(SPECIES, w[wq + 4 * wr]);
          c40 = y.fma(x0, c40);
          c41 = y.fma(x1, c41);
          y = FloatVector.broadcast(SPECIES, w[wq + 5 * wr]);
          c50 = y.fma(x0, c50);
          c51 = y.fma(x1, c51);
          y = FloatVector.broadcast(SPECIES, w[wq + 6 * wr]);
          c60 = y.fma(x0, c60);
          c61 = y.fma(x1, c61);
          y = FloatVector.broadcast(SPECIES, w[wq + 7 * wr]);
          c70 = y.fma(x0, c70);
          c71 = y.fma(x1, c71);
        }
        c00.intoArray(c, cj);
        c01.intoArray(c, cj + LANES);
        c10.intoArray(c, cj + ldc);
        c11.intoArray(c, cj + ldc + LANES);
        c20.intoArray(c, cj + 2 * ldc);
        c21.intoArray(c, cj + 2 * ldc + LANES);
        c30.intoArray(c, cj + 3 * ldc);
        c31.intoArray(c, cj + 3 * ldc + LANES);
        c40.intoArray(c, cj + 4 * ldc);
        c41.intoArray(c, cj + 4 * ldc + LANES);
        c50.intoArray(c, cj + 5 * ldc);
        c51.intoArray(c, cj + 5 * ldc + LANES);
        c60.intoArray(c, cj + 6 * ldc);
        c61.intoArray(c, cj + 6 * ldc + LANES);
        c70.intoArray(c, cj + 7 * ldc);
        c71.intoArray(c, cj + 7 * ldc + LANES);
      }
      for (; j < cols; j += LANES) {
        accumulate4x1(from, to, w, w0, wr, wp, x, xOff + j, ldx, c, c0 + j, ldc);
        accumulate4x1(from, to, w, w0 + 4 * wr, wr, wp, x, xOff + j, ldx, c, c0 + 4 * ldc + j, ldc);
      }
    }
    // The rest: four rows against one vector of columns at a time, then row by row.
    for (; r + 4 <= rows; r += 4) {
      for (int j = 0; j < cols; j += LANES) {
        accumulate4x1(
            from, to, w, wOff + r * wr, wr, wp, x, xOff + j, ldx, c, cOff + r * ldc + j, ldc);
      }
    }
    for (; r < rows; r++) {
      int w0 = wOff + r * wr;
      int c0 = cOff + r * ldc;
      for (int j = 0; j < cols; j += LANES) {
        FloatVector a0 = FloatVector.fromArray(SPECIES, c, c0 + j);
        for (int p = from; p < to; p++) {
          a0 =
              FloatVector.broadcast(SPECIES, w[w0 + p * wp])
                  .fma(FloatVector.fromArray(SPECIES, x, xOff + p * ldx + j), a0);
        }
        a0.intoArray(c, c0 + j);
      }
    }
  }

  /** Four rows of {@link #accumulate} against one vector of columns. */
  private static void accumulate4x1(
      int from,
      int to,
      float[] w,
      int w0,
      int wr,
      int wp,
      float[] x,
      int xOff,
      int ldx,
      float[] c,
      int cOff,
      int ldc) {
    FloatVector a0 = FloatVector.fromArray(SPECIES, c, cOff);
    FloatVector a1 = FloatVector.fromArray(SPECIES, c, cOff + ldc);
    FloatVector a2 = FloatVector.fromArray(SPECIES, c, cOff + 2 * ldc);
    FloatVector a3 = FloatVector.fromArray(SPECIES, c, cOff + 3 * ldc);
    for (int p = from; p < to; p++) {
      int wq = w0 + p * wp;
      FloatVector x0 = FloatVector.fromArray(SPECIES, x, xOff + p * ldx);
      a0 = FloatVector.broadcast(SPECIES, w[wq]).fma(x0, a0);
      a1 = FloatVector.broadcast(SPECIES, w[wq + wr]).fma(x0, a1);
      a2 = FloatVector.broadcast(SPECIES, w[wq + 2 * wr]).fma(x0, a2);
      a3 = FloatVector.broadcast(SPECIES, w[wq + 3 * wr]).fma(x0, a3);
    }
    a0.intoArray(c, cOff);
    a1.intoArray(c, cOff + ldc);
    a2.intoArray(c, cOff + 2 * ldc);
    a3.intoArray(c, cOff + 3 * ldc);
  }

  /** The largest of {@code x[from, to)}, {@code -inf} when empty (exact in any order). */
  public static float max(float[] x, int from, int to) {
    FloatVector acc = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
    int i = from;
    for (; i <= to - LANES; i += LANES) {
      acc = acc.max(FloatVector.fromArray(SPECIES, x, i));
    }
    float max = acc.reduceLanes(VectorOperators.MAX);
    for (; i < to; i++) {
      max = Math.max(max, x[i]);
    }
    return max;
  }

  /**
   * The sum of {@code x[from, to)}: lane {@code l} adds elements {@code from + l + k * lanes} in
   * order, the lanes are reduced, then the tail is added in order, so the result depends only on
   * the values relative to {@code from}.
   */
  public static float sum(float[] x, int from, int to) {
    FloatVector acc = FloatVector.zero(SPECIES);
    int i = from;
    for (; i <= to - LANES; i += LANES) {
      acc = acc.add(FloatVector.fromArray(SPECIES, x, i));
    }
    float sum = acc.reduceLanes(VectorOperators.ADD);
    for (; i < to; i++) {
      sum += x[i];
    }
    return sum;
  }

  private static final float LOG2E = 1.44269504088896341f;
  private static final float LN2_HI = 0.693359375f;
  private static final float LN2_LO = -2.12194440e-4f;
  private static final float MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer

  /**
   * {@code x[i] = exp(x[i] * scale - shift)} for {@code n} elements (a multiple of the lane count):
   * range reduction by {@code ln 2} and Cephes' degree-6 polynomial, about 2 ulp; arguments are
   * clamped to {@code [-87, 88]}, so results below {@code 2^-126} read as about {@code 1e-38}.
   */
  public static void exp(float[] x, int off, int n, float scale, float shift) {
    FloatVector lo = FloatVector.broadcast(SPECIES, -87f);
    FloatVector hi = FloatVector.broadcast(SPECIES, 88f);
    FloatVector magic = FloatVector.broadcast(SPECIES, MAGIC);
    int magicBits = Float.floatToRawIntBits(MAGIC);
    for (int i = 0; i < n; i += LANES) {
      FloatVector v =
          FloatVector.fromArray(SPECIES, x, off + i).mul(scale).sub(shift).max(lo).min(hi);
      FloatVector t = v.fma(FloatVector.broadcast(SPECIES, LOG2E), magic);
      FloatVector k = t.sub(magic);
      FloatVector r = k.fma(FloatVector.broadcast(SPECIES, -LN2_HI), v);
      r = k.fma(FloatVector.broadcast(SPECIES, -LN2_LO), r);
      FloatVector p = FloatVector.broadcast(SPECIES, 1.9875691500e-4f);
      p = p.fma(r, FloatVector.broadcast(SPECIES, 1.3981999507e-3f));
      p = p.fma(r, FloatVector.broadcast(SPECIES, 8.3334519073e-3f));
      p = p.fma(r, FloatVector.broadcast(SPECIES, 4.1665795894e-2f));
      p = p.fma(r, FloatVector.broadcast(SPECIES, 1.6666665459e-1f));
      p = p.fma(r, FloatVector.broadcast(SPECIES, 5.0000001201e-1f));
      FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
      IntVector e =
          ((IntVector) t.reinterpretAsInts())
              .sub(magicBits - 127)
              .lanewise(VectorOperators.LSHL, 23);
      y.mul(e.reinterpretAsFloats()).intoArray(x, off + i);
    }
  }
}
