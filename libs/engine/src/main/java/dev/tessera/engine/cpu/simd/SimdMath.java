package dev.tessera.engine.cpu.simd;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API {@code exp} and the element-wise kernels built on it (SiLU gating, softmax rows,
 * cross-entropy rows, tanh-GELU), plus the vectorised AdamW update and sum of squares. Only {@code
 * FastMath} calls these, and only when the {@code jdk.incubator.vector} module is present.
 *
 * <p>{@code exp(x)} for float: {@code x = n ln2 + r} with {@code n = rint(x / ln2)} (Cody-Waite
 * split of ln2, {@code |r| <= ln2 / 2}), {@code e^r} by the degree-7 Cephes {@code expf}
 * polynomial, then {@code 2^n} applied as two exponent-field scalings {@code 2^(n>>1) *
 * 2^(n-(n>>1))} so that results overflow to {@code +inf} above ~88.72 and underflow through the
 * subnormals to 0 below ~-103.97, as {@code (float) Math.exp}. Relative error about 1e-7 for normal
 * results; NaN stays NaN.
 *
 * <p>Every kernel handles the tail elements (fewer than a vector) with {@link #exp(float)} and the
 * same sequence of roundings (fused multiply-adds included) as the vector lanes, so an element's
 * result does not depend on where a chunk boundary falls: callers that split arrays across threads
 * get bit-identical results for any thread count.
 */
public final class SimdMath {
  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Double> DSPECIES = DoubleVector.SPECIES_PREFERRED;
  private static final int LANES = SPECIES.length();

  // Inputs are clamped to [LO, HI] first: beyond them exp is already 0 or +inf in float, and the
  // clamp keeps the integer exponent arithmetic in range.
  private static final float LO = -104f;
  private static final float HI = 89f;
  private static final float LOG2E = 1.44269504088896341f;

  /** 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer. */
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

  private SimdMath() {}

  public static int lanes() {
    return LANES;
  }

  /** {@code e^x} lane-wise. */
  public static FloatVector exp(FloatVector x) {
    FloatVector c = x.max(LO).min(HI);
    FloatVector t = c.fma(LOG2E, MAGIC);
    FloatVector n = t.sub(MAGIC);
    FloatVector r = n.fma(FloatVector.broadcast(SPECIES, -LN2_HI), c);
    r = n.fma(FloatVector.broadcast(SPECIES, -LN2_LO), r);
    FloatVector p = r.fma(P0, P1);
    p = p.fma(r, FloatVector.broadcast(SPECIES, P2));
    p = p.fma(r, FloatVector.broadcast(SPECIES, P3));
    p = p.fma(r, FloatVector.broadcast(SPECIES, P4));
    p = p.fma(r, FloatVector.broadcast(SPECIES, P5));
    FloatVector y = p.fma(r.mul(r), r).add(1f);
    IntVector k = t.reinterpretAsInts().sub(MAGIC_BITS);
    IntVector k1 = k.lanewise(VectorOperators.ASHR, 1);
    IntVector k2 = k.sub(k1);
    FloatVector s1 = k1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    FloatVector s2 = k2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    return y.mul(s1).mul(s2);
  }

  /** Scalar {@code e^x} with exactly the roundings of one lane of {@link #exp(FloatVector)}. */
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

  /** {@code out[i] = e^x[i]}. */
  public static void exp(float[] x, int xOffset, float[] out, int outOffset, int n) {
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      exp(FloatVector.fromArray(SPECIES, x, xOffset + i)).intoArray(out, outOffset + i);
    }
    for (; i < n; i++) {
      out[outOffset + i] = exp(x[xOffset + i]);
    }
  }

  /** {@code out = gate * sigmoid(gate) * up}. */
  public static void siluMul(
      float[] g, int gOffset, float[] u, int uOffset, float[] out, int outOffset, int n) {
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector v = FloatVector.fromArray(SPECIES, g, gOffset + i);
      FloatVector sigmoid = FloatVector.broadcast(SPECIES, 1f).div(exp(v.neg()).add(1f));
      v.mul(sigmoid)
          .mul(FloatVector.fromArray(SPECIES, u, uOffset + i))
          .intoArray(out, outOffset + i);
    }
    for (; i < n; i++) {
      float v = g[gOffset + i];
      float sigmoid = 1f / (exp(-v) + 1f);
      out[outOffset + i] = v * sigmoid * u[uOffset + i];
    }
  }

  /** {@code out = x sigmoid(slope x)} (QuickGELU); {@code out} may be {@code x}. */
  public static void quickGelu(
      float[] x, int xOffset, float[] out, int outOffset, int n, float slope) {
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector v = FloatVector.fromArray(SPECIES, x, xOffset + i);
      FloatVector sigmoid = FloatVector.broadcast(SPECIES, 1f).div(exp(v.mul(-slope)).add(1f));
      v.mul(sigmoid).intoArray(out, outOffset + i);
    }
    for (; i < n; i++) {
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
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector v = FloatVector.fromArray(SPECIES, x, xOffset + i);
      FloatVector s = FloatVector.broadcast(SPECIES, 1f).div(exp(v.mul(-slope)).add(1f));
      FloatVector grad = v.mul(slope).mul(s).mul(s.neg().add(1f)).add(s);
      FloatVector.fromArray(SPECIES, dy, dyOffset + i)
          .fma(grad, FloatVector.fromArray(SPECIES, dx, dxOffset + i))
          .intoArray(dx, dxOffset + i);
    }
    for (; i < n; i++) {
      float v = x[xOffset + i];
      float s = 1f / (exp(-slope * v) + 1f);
      dx[dxOffset + i] += dy[dyOffset + i] * (s + slope * v * s * (1f - s));
    }
  }

  /** {@code dgate += dout * up * silu'(gate)}, {@code dup += dout * silu(gate)}. */
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
    // Written gradients are added to zeros, as accumulated ones to a zero-filled buffer would be.
    FloatVector zero = FloatVector.zero(SPECIES);
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector v = FloatVector.fromArray(SPECIES, g, gOffset + i);
      FloatVector sigmoid = FloatVector.broadcast(SPECIES, 1f).div(exp(v.neg()).add(1f));
      FloatVector d = FloatVector.fromArray(SPECIES, dy, dyOffset + i);
      FloatVector up = FloatVector.fromArray(SPECIES, u, uOffset + i);
      FloatVector dsilu = sigmoid.mul(v.mul(sigmoid.neg().add(1f)).add(1f));
      FloatVector dgBefore = accumulate ? FloatVector.fromArray(SPECIES, dg, dgOffset + i) : zero;
      FloatVector duBefore = accumulate ? FloatVector.fromArray(SPECIES, du, duOffset + i) : zero;
      dgBefore.add(d.mul(up).mul(dsilu)).intoArray(dg, dgOffset + i);
      duBefore.add(d.mul(v).mul(sigmoid)).intoArray(du, duOffset + i);
    }
    for (; i < n; i++) {
      float v = g[gOffset + i];
      float sigmoid = 1f / (exp(-v) + 1f);
      float d = dy[dyOffset + i];
      float dsilu = sigmoid * (v * (1f - sigmoid) + 1f);
      dg[dgOffset + i] = (accumulate ? dg[dgOffset + i] : 0f) + d * u[uOffset + i] * dsilu;
      du[duOffset + i] = (accumulate ? du[duOffset + i] : 0f) + d * v * sigmoid;
    }
  }

  /** The largest of {@code x[offset .. offset + n)}; NaN if any is NaN. */
  public static float max(float[] x, int offset, int n) {
    int i = 0;
    float max = Float.NEGATIVE_INFINITY;
    if (n >= LANES) {
      // Four independent chains: a vector max with Java's NaN and signed-zero rules is several
      // instructions, and one chain would wait on each. max is associative under those rules, so
      // the result is the same as one chain's.
      FloatVector acc0 = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
      FloatVector acc1 = acc0;
      FloatVector acc2 = acc0;
      FloatVector acc3 = acc0;
      for (; i <= n - 4 * LANES; i += 4 * LANES) {
        acc0 = acc0.max(FloatVector.fromArray(SPECIES, x, offset + i));
        acc1 = acc1.max(FloatVector.fromArray(SPECIES, x, offset + i + LANES));
        acc2 = acc2.max(FloatVector.fromArray(SPECIES, x, offset + i + 2 * LANES));
        acc3 = acc3.max(FloatVector.fromArray(SPECIES, x, offset + i + 3 * LANES));
      }
      for (; i <= n - LANES; i += LANES) {
        acc0 = acc0.max(FloatVector.fromArray(SPECIES, x, offset + i));
      }
      max = acc0.max(acc1).max(acc2.max(acc3)).reduceLanes(VectorOperators.MAX);
    }
    for (; i < n; i++) {
      max = Math.max(max, x[offset + i]);
    }
    return max;
  }

  /** {@code out[i] = e^(x[i] - shift)}; returns their float sum (lane-wise, then reduced). */
  public static float expShiftSum(
      float[] x, int xOffset, float shift, float[] out, int outOffset, int n) {
    FloatVector acc = FloatVector.zero(SPECIES);
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector e = exp(FloatVector.fromArray(SPECIES, x, xOffset + i).sub(shift));
      e.intoArray(out, outOffset + i);
      acc = acc.add(e);
    }
    float sum = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) {
      float e = exp(x[xOffset + i] - shift);
      out[outOffset + i] = e;
      sum += e;
    }
    return sum;
  }

  /**
   * Elements summed in float before their sum is added in double (see {@link #expShiftSumDouble}).
   */
  private static final int SUM_BLOCK = 1024;

  /**
   * {@code out[i] = e^(x[i] - shift)}; returns their sum: in float vectors over blocks of {@link
   * #SUM_BLOCK} elements (a lane adds at most 64 values), the blocks' sums added in double. Reads
   * {@code x[i]} before writing {@code out[i]}, so {@code out} may be {@code x}.
   *
   * <p>No float-to-double vector conversion: inside the cross-entropy loop over a 151,936-word
   * vocabulary C2 left that conversion to the Vector API's Java fallback, 6% of the tiny preset's
   * training step.
   */
  public static double expShiftSumDouble(
      float[] x, int xOffset, float shift, float[] out, int outOffset, int n) {
    double sum = 0;
    int i = 0;
    while (i <= n - LANES) {
      int blockEnd = Math.min(n, i + SUM_BLOCK) - LANES;
      FloatVector acc = FloatVector.zero(SPECIES);
      for (; i <= blockEnd; i += LANES) {
        FloatVector e = exp(FloatVector.fromArray(SPECIES, x, xOffset + i).sub(shift));
        e.intoArray(out, outOffset + i);
        acc = acc.add(e);
      }
      sum += acc.reduceLanes(VectorOperators.ADD);
    }
    for (; i < n; i++) {
      float e = exp(x[xOffset + i] - shift);
      out[outOffset + i] = e;
      sum += e;
    }
    return sum;
  }

  /** {@code x[i] *= s}. */
  public static void scale(float[] x, int offset, float s, int n) {
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector.fromArray(SPECIES, x, offset + i).mul(s).intoArray(x, offset + i);
    }
    for (; i < n; i++) {
      x[offset + i] *= s;
    }
  }

  /** Sum of {@code (double) x[i] * x[i]}, in double. */
  public static double sumSquares(float[] x, int offset, int n) {
    DoubleVector acc0 = DoubleVector.zero(DSPECIES);
    DoubleVector acc1 = DoubleVector.zero(DSPECIES);
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector v = FloatVector.fromArray(SPECIES, x, offset + i);
      DoubleVector lo = (DoubleVector) v.convertShape(VectorOperators.F2D, DSPECIES, 0);
      DoubleVector hi = (DoubleVector) v.convertShape(VectorOperators.F2D, DSPECIES, 1);
      acc0 = lo.fma(lo, acc0);
      acc1 = hi.fma(hi, acc1);
    }
    double sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) {
      double v = x[offset + i];
      sum += v * v;
    }
    return sum;
  }

  /**
   * One AdamW update of {@code n} elements: {@code m = b1 m + (1 - b1) g}, {@code v = b2 v + (1 -
   * b2) g^2}, {@code p = p keep - stepSize m / (sqrt(v) rsqrtBias2 + eps)}, with the same roundings
   * as the scalar loop (no fused multiply-adds).
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
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector grad = FloatVector.fromArray(SPECIES, g, gOffset + i).mul(gradScale);
      FloatVector mj =
          FloatVector.fromArray(SPECIES, m, sOffset + i).mul(b1).add(grad.mul(oneMinusB1));
      FloatVector vj =
          FloatVector.fromArray(SPECIES, v, sOffset + i)
              .mul(b2)
              .add(grad.mul(oneMinusB2).mul(grad));
      mj.intoArray(m, sOffset + i);
      vj.intoArray(v, sOffset + i);
      FloatVector denom = vj.sqrt().mul(rsqrtBias2).add(eps);
      FloatVector.fromArray(SPECIES, p, pOffset + i)
          .mul(keep)
          .sub(mj.mul(stepSize).div(denom))
          .intoArray(p, pOffset + i);
    }
    for (; i < n; i++) {
      float grad = g[gOffset + i] * gradScale;
      float mj = b1 * m[sOffset + i] + oneMinusB1 * grad;
      float vj = b2 * v[sOffset + i] + oneMinusB2 * grad * grad;
      m[sOffset + i] = mj;
      v[sOffset + i] = vj;
      float denom = (float) Math.sqrt(vj) * rsqrtBias2 + eps;
      p[pOffset + i] = p[pOffset + i] * keep - stepSize * mj / denom;
    }
  }

  /** {@code tanh(y) = 1 - 2 / (e^(2y) + 1)} lane-wise. */
  private static FloatVector tanh(FloatVector y) {
    return FloatVector.broadcast(SPECIES, 1f).div(exp(y.add(y)).add(1f)).mul(-2f).add(1f);
  }

  private static float tanh(float y) {
    return 1f + (1f / (exp(y + y) + 1f)) * -2f;
  }

  /**
   * {@code out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}; {@code out} may be {@code x}.
   */
  public static void gelu(float[] x, int xOffset, float[] out, int outOffset, int n) {
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector v = FloatVector.fromArray(SPECIES, x, xOffset + i);
      FloatVector t = tanh(v.mul(v).mul(v).mul(CUBIC).add(v).mul(SQRT_2_OVER_PI));
      v.mul(0.5f).mul(t.add(1f)).intoArray(out, outOffset + i);
    }
    for (; i < n; i++) {
      float v = x[xOffset + i];
      float t = tanh((v + v * v * v * CUBIC) * SQRT_2_OVER_PI);
      out[outOffset + i] = v * 0.5f * (t + 1f);
    }
  }

  /** {@code dx += dy * gelu'(x)}. */
  public static void geluBackward(
      float[] dx, int dxOffset, float[] dy, int dyOffset, float[] x, int xOffset, int n) {
    int i = 0;
    for (; i <= n - LANES; i += LANES) {
      FloatVector v = FloatVector.fromArray(SPECIES, x, xOffset + i);
      FloatVector v2 = v.mul(v);
      FloatVector t = tanh(v2.mul(v).mul(CUBIC).add(v).mul(SQRT_2_OVER_PI));
      FloatVector dInner = v2.mul(3 * CUBIC).add(1f).mul(SQRT_2_OVER_PI);
      FloatVector grad =
          t.add(1f).mul(0.5f).add(v.mul(0.5f).mul(t.mul(t).neg().add(1f)).mul(dInner));
      FloatVector.fromArray(SPECIES, dx, dxOffset + i)
          .add(FloatVector.fromArray(SPECIES, dy, dyOffset + i).mul(grad))
          .intoArray(dx, dxOffset + i);
    }
    for (; i < n; i++) {
      float v = x[xOffset + i];
      float v2 = v * v;
      float t = tanh((v + v2 * v * CUBIC) * SQRT_2_OVER_PI);
      float dInner = (v2 * (3 * CUBIC) + 1f) * SQRT_2_OVER_PI;
      float grad = (t + 1f) * 0.5f + v * 0.5f * (1f - t * t) * dInner;
      dx[dxOffset + i] += dy[dyOffset + i] * grad;
    }
  }
}
