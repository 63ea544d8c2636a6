package dev.tessera.engine.cpu.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API versions of the primitives in {@code Vec}. Only {@code Vec} calls these, and only when
 * the {@code jdk.incubator.vector} module is present.
 */
public final class SimdVec {
  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
  private static final int LANES = SPECIES.length();

  private SimdVec() {}

  public static int lanes() {
    return LANES;
  }

  public static float dot(float[] a, int aOffset, float[] b, int bOffset, int n) {
    FloatVector acc0 = FloatVector.zero(SPECIES);
    FloatVector acc1 = FloatVector.zero(SPECIES);
    int i = 0;
    for (; i <= n - 2 * LANES; i += 2 * LANES) {
      acc0 =
          FloatVector.fromArray(SPECIES, a, aOffset + i)
              .fma(FloatVector.fromArray(SPECIES, b, bOffset + i), acc0);
      acc1 =
          FloatVector.fromArray(SPECIES, a, aOffset + i + LANES)
              .fma(FloatVector.fromArray(SPECIES, b, bOffset + i + LANES), acc1);
    }
    for (; i <= n - LANES; i += LANES) {
      acc0 =
          FloatVector.fromArray(SPECIES, a, aOffset + i)
              .fma(FloatVector.fromArray(SPECIES, b, bOffset + i), acc0);
    }
    float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) {
      sum += a[aOffset + i] * b[bOffset + i];
    }
    return sum;
  }

  /** {@code y += alpha * x}. */
  public static void axpy(float alpha, float[] x, int xOffset, float[] y, int yOffset, int n) {
    FloatVector scale = FloatVector.broadcast(SPECIES, alpha);
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector.fromArray(SPECIES, x, xOffset + i)
          .fma(scale, FloatVector.fromArray(SPECIES, y, yOffset + i))
          .intoArray(y, yOffset + i);
    }
    for (; i < n; i++) {
      y[yOffset + i] += alpha * x[xOffset + i];
    }
  }

  public static float sum(float[] x, int offset, int n) {
    FloatVector acc = FloatVector.zero(SPECIES);
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      acc = acc.add(FloatVector.fromArray(SPECIES, x, offset + i));
    }
    float sum = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) {
      sum += x[offset + i];
    }
    return sum;
  }

  /** {@code out = x * scale} element-wise with a vector {@code scale}, times a scalar. */
  public static void mul(
      float[] x, int xOffset, float[] w, int wOffset, float s, float[] out, int outOffset, int n) {
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector.fromArray(SPECIES, x, xOffset + i)
          .mul(FloatVector.fromArray(SPECIES, w, wOffset + i))
          .mul(s)
          .intoArray(out, outOffset + i);
    }
    for (; i < n; i++) {
      out[outOffset + i] = x[xOffset + i] * w[wOffset + i] * s;
    }
  }
}
