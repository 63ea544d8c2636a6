package dev.tessera.engine.cpu;

import dev.tessera.engine.cpu.simd.SimdVec;

/**
 * The handful of vector primitives CPU kernels are written in (llama3.java style): dot, axpy, sum,
 * scaled multiply. They use the Vector API when the JVM runs with {@code --add-modules
 * jdk.incubator.vector} and plain loops otherwise, so kernels read like scalar code either way.
 */
public final class Vec {
  /** True when the Vector API is available to this JVM. */
  public static final boolean SIMD =
      ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

  /** Bits of the vectors the kernels compute with (256 with AVX2, 512 with AVX-512); 0 without. */
  public static final int BITS = SIMD ? SimdVec.lanes() * Float.SIZE : 0;

  private Vec() {}

  public static float dot(float[] a, int aOffset, float[] b, int bOffset, int n) {
    if (SIMD) {
      return SimdVec.dot(a, aOffset, b, bOffset, n);
    }
    float sum = 0;
    for (int i = 0; i < n; i++) {
      sum += a[aOffset + i] * b[bOffset + i];
    }
    return sum;
  }

  /** {@code y += alpha * x}. */
  public static void axpy(float alpha, float[] x, int xOffset, float[] y, int yOffset, int n) {
    if (SIMD) {
      SimdVec.axpy(alpha, x, xOffset, y, yOffset, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      y[yOffset + i] += alpha * x[xOffset + i];
    }
  }

  public static float sum(float[] x, int offset, int n) {
    if (SIMD) {
      return SimdVec.sum(x, offset, n);
    }
    float sum = 0;
    for (int i = 0; i < n; i++) {
      sum += x[offset + i];
    }
    return sum;
  }

  /** {@code out[i] = x[i] * w[i] * s}. */
  public static void mul(
      float[] x, int xOffset, float[] w, int wOffset, float s, float[] out, int outOffset, int n) {
    if (SIMD) {
      SimdVec.mul(x, xOffset, w, wOffset, s, out, outOffset, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      out[outOffset + i] = x[xOffset + i] * w[wOffset + i] * s;
    }
  }
}
