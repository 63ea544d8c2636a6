package dev.tessera.engine.cpu;

import dev.tessera.engine.cpu.simd.SimdMath;

/**
 * Float {@code exp} and the element-wise kernels of the pointwise ops and the optimiser: {@code
 * cpu.simd.SimdMath} (Vector API) when {@link Vec#SIMD}, plain loops otherwise. The scalar {@link
 * #exp(float)} is the same range reduction and polynomial as the vector lanes (relative error about
 * 1e-7, {@code +inf} on overflow, 0 below about -104, NaN for NaN), so both paths agree to the last
 * bit element by element; only the order of sums (softmax, sum of squares) differs between them.
 */
public final class FastMath {
  private static final float LO = -104f;
  private static final float HI = 89f;
  private static final float LOG2E = 1.44269504088896341f;
  private static final float MAGIC = 12582912f;
  private static final int MAGIC_BITS = 0x4B400000;
  private static final float LN2_HI = 0.693359375f;
  private static final float LN2_LO = -2.12194440e-4f;
  private static final float P0 = 1.9875691500e-4f;
  private static final float P1 = 1.3981999507e-3f;
  private static final float P2 = 8.3334519073e-3f;
  private static final float P3 = 4.1665795894e-2f;
  private static final float P4 = 1.6666665459e-1f;
  private static final float P5 = 5.0000001201e-1f;
  private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);
  private static final float CUBIC = 0.044715f;

  private FastMath() {}

  /** {@code e^x} in float (see the class comment); the same bits as one lane of the SIMD path. */
  public static float exp(float x) {
    float c = Math.min(Math.max(x, LO), HI);
    float t = Math.fma(c, LOG2E, MAGIC);
    float n = t - MAGIC;
    float r = Math.fma(n, -LN2_HI, c);
    r = Math.fma(n, -LN2_LO, r);
    float p = Math.fma(r, P0, P1);
    p = Math.fma(p, r, P2);
    p = Math.fma(p, r, P3);
    p = Math.fma(p, r, P4);
    p = Math.fma(p, r, P5);
    float y = Math.fma(p, r * r, r) + 1f;
    int k = Float.floatToRawIntBits(t) - MAGIC_BITS;
    int k1 = k >> 1;
    int k2 = k - k1;
    return y * Float.intBitsToFloat((k1 + 127) << 23) * Float.intBitsToFloat((k2 + 127) << 23);
  }

  /** {@code out[i] = e^x[i]}; {@code out} may be {@code x}. */
  public static void exp(float[] x, int xOffset, float[] out, int outOffset, int n) {
    if (Vec.SIMD) {
      SimdMath.exp(x, xOffset, out, outOffset, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      out[outOffset + i] = exp(x[xOffset + i]);
    }
  }

  /** {@code out = gate * sigmoid(gate) * up} (SwiGLU). */
  public static void siluMul(
      float[] g, int gOffset, float[] u, int uOffset, float[] out, int outOffset, int n) {
    if (Vec.SIMD) {
      SimdMath.siluMul(g, gOffset, u, uOffset, out, outOffset, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      float v = g[gOffset + i];
      float sigmoid = 1f / (exp(-v) + 1f);
      out[outOffset + i] = v * sigmoid * u[uOffset + i];
    }
  }

  /** {@code out = x sigmoid(slope x)} (QuickGELU); {@code out} may be {@code x}. */
  public static void quickGelu(
      float[] x, int xOffset, float[] out, int outOffset, int n, float slope) {
    if (Vec.SIMD) {
      SimdMath.quickGelu(x, xOffset, out, outOffset, n, slope);
      return;
    }
    for (int i = 0; i < n; i++) {
      float v = x[xOffset + i];
      out[outOffset + i] = v * (1f / (exp(-slope * v) + 1f));
    }
  }

  /** {@code dx += dy (s + slope x s (1 - s))}, {@code s = sigmoid(slope x)} (QuickGELU). */
  public static void quickGeluBackward(
      float[] dx,
      int dxOffset,
      float[] dy,
      int dyOffset,
      float[] x,
      int xOffset,
      int n,
      float slope) {
    if (Vec.SIMD) {
      SimdMath.quickGeluBackward(dx, dxOffset, dy, dyOffset, x, xOffset, n, slope);
      return;
    }
    for (int i = 0; i < n; i++) {
      float v = x[xOffset + i];
      float s = 1f / (exp(-slope * v) + 1f);
      dx[dxOffset + i] += dy[dyOffset + i] * (s + slope * v * s * (1f - s));
    }
  }

  /** {@code dgate += dout * up * silu'(gate)} and {@code dup += dout * silu(gate)}. */
  public static void siluMulBackward(
      float[] dg,
      int dgOffset,
      float[] du,
      int duOffset,
      float[] dy,
      int dyOffset,
      float[] g,
      int gOffset,
      float[] u,
      int uOffset,
      int n,
      boolean accumulate) {
    if (Vec.SIMD) {
      SimdMath.siluMulBackward(
          dg, dgOffset, du, duOffset, dy, dyOffset, g, gOffset, u, uOffset, n, accumulate);
      return;
    }
    for (int i = 0; i < n; i++) {
      float v = g[gOffset + i];
      float sigmoid = 1f / (exp(-v) + 1f);
      float d = dy[dyOffset + i];
      float dsilu = sigmoid * (v * (1f - sigmoid) + 1f);
      dg[dgOffset + i] = (accumulate ? dg[dgOffset + i] : 0f) + d * u[uOffset + i] * dsilu;
      du[duOffset + i] = (accumulate ? du[duOffset + i] : 0f) + d * v * sigmoid;
    }
  }

  /** The largest of {@code x[offset .. offset + n)}, {@code -inf} when {@code n == 0}. */
  public static float max(float[] x, int offset, int n) {
    if (Vec.SIMD) {
      return SimdMath.max(x, offset, n);
    }
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      max = Math.max(max, x[offset + i]);
    }
    return max;
  }

  /**
   * {@code out[i] = e^(x[i] - shift)}; returns their sum in float. {@code out} may be {@code x}.
   */
  public static float expShiftSum(
      float[] x, int xOffset, float shift, float[] out, int outOffset, int n) {
    if (Vec.SIMD) {
      return SimdMath.expShiftSum(x, xOffset, shift, out, outOffset, n);
    }
    float sum = 0;
    for (int i = 0; i < n; i++) {
      float e = exp(x[xOffset + i] - shift);
      out[outOffset + i] = e;
      sum += e;
    }
    return sum;
  }

  /**
   * {@code out[i] = e^(x[i] - shift)}; returns their sum, accumulated in double (with the Vector
   * API: in float over blocks of 1,024, the blocks in double). {@code out} may be {@code x}.
   */
  public static double expShiftSumDouble(
      float[] x, int xOffset, float shift, float[] out, int outOffset, int n) {
    if (Vec.SIMD) {
      return SimdMath.expShiftSumDouble(x, xOffset, shift, out, outOffset, n);
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
      float e = exp(x[xOffset + i] - shift);
      out[outOffset + i] = e;
      sum += e;
    }
    return sum;
  }

  /** {@code x[i] *= s}. */
  public static void scale(float[] x, int offset, float s, int n) {
    if (Vec.SIMD) {
      SimdMath.scale(x, offset, s, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      x[offset + i] *= s;
    }
  }

  /** Sum of the squares of {@code x[offset .. offset + n)}, in double. */
  public static double sumSquares(float[] x, int offset, int n) {
    if (Vec.SIMD) {
      return SimdMath.sumSquares(x, offset, n);
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
      double v = x[offset + i];
      sum += v * v;
    }
    return sum;
  }

  /**
   * One AdamW update of {@code n} elements (parameter {@code p}, gradient {@code g}, moments {@code
   * m}, {@code v} at {@code sOffset}): {@code m = b1 m + (1 - b1) g}, {@code v = b2 v + (1 - b2)
   * g^2}, {@code p = p keep - stepSize m / (sqrt(v) rsqrtBias2 + eps)}. Both paths round
   * identically (IEEE sqrt and division, no fused multiply-adds).
   */
  public static void adamw(
      float[] p,
      int pOffset,
      float[] g,
      int gOffset,
      float[] m,
      float[] v,
      int sOffset,
      int n,
      float b1,
      float oneMinusB1,
      float b2,
      float oneMinusB2,
      float keep,
      float stepSize,
      float rsqrtBias2,
      float eps,
      float gradScale) {
    if (Vec.SIMD) {
      SimdMath.adamw(
          p,
          pOffset,
          g,
          gOffset,
          m,
          v,
          sOffset,
          n,
          b1,
          oneMinusB1,
          b2,
          oneMinusB2,
          keep,
          stepSize,
          rsqrtBias2,
          eps,
          gradScale);
      return;
    }
    for (int i = 0; i < n; i++) {
      float grad = g[gOffset + i] * gradScale;
      float mj = b1 * m[sOffset + i] + oneMinusB1 * grad;
      float vj = b2 * v[sOffset + i] + oneMinusB2 * grad * grad;
      m[sOffset + i] = mj;
      v[sOffset + i] = vj;
      float denom = (float) Math.sqrt(vj) * rsqrtBias2 + eps;
      p[pOffset + i] = p[pOffset + i] * keep - stepSize * mj / denom;
    }
  }

  private static float tanh(float y) {
    return 1f + (1f / (exp(y + y) + 1f)) * -2f;
  }

  /** Tanh-approximated GELU, {@code out} may be {@code x}. */
  public static void gelu(float[] x, int xOffset, float[] out, int outOffset, int n) {
    if (Vec.SIMD) {
      SimdMath.gelu(x, xOffset, out, outOffset, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      float v = x[xOffset + i];
      float t = tanh((v + v * v * v * CUBIC) * SQRT_2_OVER_PI);
      out[outOffset + i] = v * 0.5f * (t + 1f);
    }
  }

  /** {@code dx += dy * gelu'(x)} for the tanh-approximated GELU. */
  public static void geluBackward(
      float[] dx, int dxOffset, float[] dy, int dyOffset, float[] x, int xOffset, int n) {
    if (Vec.SIMD) {
      SimdMath.geluBackward(dx, dxOffset, dy, dyOffset, x, xOffset, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      float v = x[xOffset + i];
      float v2 = v * v;
      float t = tanh((v + v2 * v * CUBIC) * SQRT_2_OVER_PI);
      float dInner = (v2 * (3 * CUBIC) + 1f) * SQRT_2_OVER_PI;
      float grad = (t + 1f) * 0.5f + v * 0.5f * (1f - t * t) * dInner;
      dx[dxOffset + i] += dy[dyOffset + i] * grad;
    }
  }
}
