package dev.tessera.engine.cpu.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API micro-kernels of {@code Gemm}: a block of C of {@code MR} rows and {@code 2 *
 * lanes} columns held in FMA accumulators while it walks a packed panel of A ({@code MR} rows,
 * interleaved per k) and a packed panel of B ({@code 2 * lanes} columns per k). With 512-bit
 * vectors (32 registers) the block is 12 rows (24 accumulators): each k step does 24 FMAs for 2
 * vector and 12 broadcast loads. Narrower vectors mean 16 registers on x86 (AVX2), where 12
 * accumulators are all that fit, so the block is 6 rows. Either way each element of C is one FMA
 * chain over k in order: the results do not depend on the block. Only {@code Gemm} calls it, and
 * only when the {@code jdk.incubator.vector} module is present.
 *
 * <p>Keep the kernels straight-line: a second way of storing C (writing {@code alpha * sum} for
 * beta 0, chosen by a branch or a conditional) made C2 give up on keeping the accumulators in
 * registers, and the kernel ran at under 1 GFLOP/s.
 */
public final class SimdGemm {
  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
  private static final int LANES = SPECIES.length();
  private static final int MR = LANES >= 16 ? 12 : 6;
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
   * {@code C[0:MR, 0:NR] = fma(alpha, sum_p A[:, p] * B[p, :], Cin)} with A read as {@code
   * a[aOffset + p * aStride + i]} — packed ({@code aStride = MR}) or a transposed A as stored (its
   * row stride) — and B packed as {@code b[bOffset + p * NR + j]}. Each element is accumulated in k
   * order with one FMA per step, then added to {@code Cin} with one FMA. {@code Cin} is read from
   * {@code cIn[cInOffset + i * ldcIn + j]}: C itself to accumulate, or a row of zeros with {@code
   * ldcIn = 0} to overwrite C without reading it (a separate input rather than a second way of
   * storing keeps the kernel straight-line; see the class comment).
   */
  public static void kernel(
      int kc,
      float[] a,
      int aOffset,
      int aStride,
      float[] b,
      int bOffset,
      float[] cIn,
      int cInOffset,
      int ldcIn,
      float[] c,
      int cOffset,
      int ldc,
      float alpha) {
    if (MR == 12) {
      kernel12(kc, a, aOffset, aStride, b, bOffset, cIn, cInOffset, ldcIn, c, cOffset, ldc, alpha);
    } else {
      kernel6(kc, a, aOffset, aStride, b, bOffset, cIn, cInOffset, ldcIn, c, cOffset, ldc, alpha);
    }
  }

  /**
   * Floats a {@link #copyRuns} store may write past each {@code MR}-float run: a whole vector is
   * stored, and its lanes beyond the run land where the next k step's run (or a panel's padding)
   * goes.
   */
  public static int runSpill() {
    return Math.max(0, LANES - MR);
  }

  /**
   * Copies {@code runs} runs of {@code MR} floats, {@code src + r * MR} to {@code dst + r *
   * dstStride}, one vector each. Each store writes {@link #runSpill} floats past its run; the
   * caller writes the runs in increasing k order, so each spill is overwritten by the next k step's
   * run, or lands in padding. Reads up to {@link #runSpill} floats past the last run, which must
   * exist.
   */
  public static void copyRuns(float[] a, int src, float[] dst, int dstAt, int dstStride, int runs) {
    for (int r = 0; r < runs; r++) {
      FloatVector.fromArray(SPECIES, a, src + r * MR).intoArray(dst, dstAt + r * dstStride);
    }
  }

  /** {@link #kernel} with a 6-row block, on any vector width. */
  public static void kernel6(
      int kc,
      float[] a,
      int aOffset,
      int aStride,
      float[] b,
      int bOffset,
      float[] cIn,
      int cInOffset,
      int ldcIn,
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
      int ap = aOffset + p * aStride;
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
    int q = cInOffset;
    c00.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c01.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c10.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c11.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c20.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c21.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c30.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c31.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c40.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c41.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c50.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c51.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
  }

  /** {@link #kernel} with a 12-row block, on any vector width. */
  public static void kernel12(
      int kc,
      float[] a,
      int aOffset,
      int aStride,
      float[] b,
      int bOffset,
      float[] cIn,
      int cInOffset,
      int ldcIn,
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
    FloatVector c60 = FloatVector.zero(SPECIES);
    FloatVector c61 = FloatVector.zero(SPECIES);
    FloatVector c70 = FloatVector.zero(SPECIES);
    FloatVector c71 = FloatVector.zero(SPECIES);
    FloatVector c80 = FloatVector.zero(SPECIES);
    FloatVector c81 = FloatVector.zero(SPECIES);
    FloatVector c90 = FloatVector.zero(SPECIES);
    FloatVector c91 = FloatVector.zero(SPECIES);
    FloatVector c100 = FloatVector.zero(SPECIES);
    FloatVector c101 = FloatVector.zero(SPECIES);
    FloatVector c110 = FloatVector.zero(SPECIES);
    FloatVector c111 = FloatVector.zero(SPECIES);
    // Offsets from p, not extra induction variables: C2 keeps the accumulators in registers.
    for (int p = 0; p < kc; p++) {
      int ap = aOffset + p * aStride;
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
      x = FloatVector.broadcast(SPECIES, a[ap + 6]);
      c60 = x.fma(b0, c60);
      c61 = x.fma(b1, c61);
      x = FloatVector.broadcast(SPECIES, a[ap + 7]);
      c70 = x.fma(b0, c70);
      c71 = x.fma(b1, c71);
      x = FloatVector.broadcast(SPECIES, a[ap + 8]);
      c80 = x.fma(b0, c80);
      c81 = x.fma(b1, c81);
      x = FloatVector.broadcast(SPECIES, a[ap + 9]);
      c90 = x.fma(b0, c90);
      c91 = x.fma(b1, c91);
      x = FloatVector.broadcast(SPECIES, a[ap + 10]);
      c100 = x.fma(b0, c100);
      c101 = x.fma(b1, c101);
      x = FloatVector.broadcast(SPECIES, a[ap + 11]);
      c110 = x.fma(b0, c110);
      c111 = x.fma(b1, c111);
    }
    FloatVector s = FloatVector.broadcast(SPECIES, alpha);
    int r = cOffset;
    int q = cInOffset;
    c00.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c01.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c10.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c11.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c20.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c21.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c30.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c31.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c40.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c41.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c50.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c51.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c60.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c61.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c70.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c71.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c80.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c81.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c90.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c91.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c100.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c101.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
    r += ldc;
    q += ldcIn;
    c110.fma(s, FloatVector.fromArray(SPECIES, cIn, q)).intoArray(c, r);
    c111.fma(s, FloatVector.fromArray(SPECIES, cIn, q + LANES)).intoArray(c, r + LANES);
  }
}
