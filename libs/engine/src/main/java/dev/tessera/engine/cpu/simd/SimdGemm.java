package dev.tessera.engine.cpu.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API micro-kernel of {@code Gemm}: a {@code 6 x (2 * lanes)} block of C held in 12 FMA
 * accumulators while it walks a packed panel of A (6 rows, interleaved per k) and a packed panel of
 * B ({@code 2 * lanes} columns per k). Only {@code Gemm} calls it, and only when the {@code
 * jdk.incubator.vector} module is present.
 */
public final class SimdGemm {
  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
  private static final int LANES = SPECIES.length();
  private static final int MR = 6;
  private static final int NR = 2 * LANES;

  private SimdGemm() {}

  /** Rows of C per micro-kernel call. */
  public static int mr() {
    return MR;
  }

  /** Columns of C per micro-kernel call. */
  public static int nr() {
    return NR;
  }

  /**
   * {@code C[0:6, 0:NR] = fma(alpha, sum_p A[:, p] * B[p, :], C)} with A packed as {@code a[aOffset
   * + p * 6 + i]} and B as {@code b[bOffset + p * NR + j]}. Each element is accumulated in k order
   * with one FMA per step, then added to C with one FMA.
   */
  public static void kernel(
      int kc,
      float[] a,
      int aOffset,
      float[] b,
      int bOffset,
      float[] c,
      int cOffset,
      int ldc,
      float alpha) {
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
    // Offsets from p, not extra induction variables: C2 keeps all 12 accumulators in registers.
    for (int p = 0; p < kc; p++) {
      int ap = aOffset + p * MR;
      int bp = bOffset + p * NR;
      FloatVector b0 = FloatVector.fromArray(SPECIES, b, bp);
      FloatVector b1 = FloatVector.fromArray(SPECIES, b, bp + LANES);
      FloatVector x = FloatVector.broadcast(SPECIES, a[ap]);
      c00 = x.fma(b0, c00);
      c01 = x.fma(b1, c01);
      x = FloatVector.broadcast(SPECIES, a[ap + 1]);
      c10 = x.fma(b0, c10);
      c11 = x.fma(b1, c11);
      x = FloatVector.broadcast(SPECIES, a[ap + 2]);
      c20 = x.fma(b0, c20);
      c21 = x.fma(b1, c21);
      x = FloatVector.broadcast(SPECIES, a[ap + 3]);
      c30 = x.fma(b0, c30);
      c31 = x.fma(b1, c31);
      x = FloatVector.broadcast(SPECIES, a[ap + 4]);
      c40 = x.fma(b0, c40);
      c41 = x.fma(b1, c41);
      x = FloatVector.broadcast(SPECIES, a[ap + 5]);
      c50 = x.fma(b0, c50);
      c51 = x.fma(b1, c51);
    }
    FloatVector s = FloatVector.broadcast(SPECIES, alpha);
    int r = cOffset;
    c00.fma(s, FloatVector.fromArray(SPECIES, c, r)).intoArray(c, r);
    c01.fma(s, FloatVector.fromArray(SPECIES, c, r + LANES)).intoArray(c, r + LANES);
    r += ldc;
    c10.fma(s, FloatVector.fromArray(SPECIES, c, r)).intoArray(c, r);
    c11.fma(s, FloatVector.fromArray(SPECIES, c, r + LANES)).intoArray(c, r + LANES);
    r += ldc;
    c20.fma(s, FloatVector.fromArray(SPECIES, c, r)).intoArray(c, r);
    c21.fma(s, FloatVector.fromArray(SPECIES, c, r + LANES)).intoArray(c, r + LANES);
    r += ldc;
    c30.fma(s, FloatVector.fromArray(SPECIES, c, r)).intoArray(c, r);
    c31.fma(s, FloatVector.fromArray(SPECIES, c, r + LANES)).intoArray(c, r + LANES);
    r += ldc;
    c40.fma(s, FloatVector.fromArray(SPECIES, c, r)).intoArray(c, r);
    c41.fma(s, FloatVector.fromArray(SPECIES, c, r + LANES)).intoArray(c, r + LANES);
    r += ldc;
    c50.fma(s, FloatVector.fromArray(SPECIES, c, r)).intoArray(c, r);
    c51.fma(s, FloatVector.fromArray(SPECIES, c, r + LANES)).intoArray(c, r + LANES);
  }
}
