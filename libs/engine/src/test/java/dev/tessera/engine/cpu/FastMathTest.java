package dev.tessera.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class FastMathTest {
  /** Largest relative error of the float exp against {@code Math.exp} over normal results. */
  private static final double MAX_REL_ERROR = 2e-7;

  @Test
  void expMatchesMathExpOverADenseSweep() {
    // Every 2^-12 from -87 to 88.7 (~720k points) plus random points, through the array (SIMD
    // when available) and the scalar path.
    int count = (int) ((88.7 + 87.0) * 4096);
    float[] x = new float[count + 100_000];
    for (int i = 0; i < count; i++) {
      x[i] = (float) (-87.0 + i / 4096.0);
    }
    Random random = new Random(1);
    for (int i = count; i < x.length; i++) {
      x[i] = (float) (random.nextGaussian() * 10);
    }
    float[] y = new float[x.length];
    FastMath.exp(x, 0, y, 0, x.length);
    double worst = 0;
    for (int i = 0; i < x.length; i++) {
      double expected = Math.exp(x[i]);
      double rel = Math.abs(y[i] - expected) / expected;
      worst = Math.max(worst, rel);
      assertThat(Float.floatToRawIntBits(FastMath.exp(x[i])))
          .as("scalar and array paths agree at x = %s", x[i])
          .isEqualTo(Float.floatToRawIntBits(y[i]));
    }
    assertThat(worst).isLessThan(MAX_REL_ERROR);
  }

  @Test
  void expLimits() {
    float[] x = {
      0f,
      -0f,
      1f,
      -1f,
      88.7f,
      88.73f,
      89f,
      100f,
      1e30f,
      Float.POSITIVE_INFINITY,
      -87.5f,
      -100f,
      -103.9f,
      -104f,
      -110f,
      -1e30f,
      Float.NEGATIVE_INFINITY,
      Float.NaN
    };
    // Enough copies for a full vector and a scalar tail.
    int reps = 5;
    float[] in = new float[x.length * reps];
    for (int r = 0; r < reps; r++) {
      System.arraycopy(x, 0, in, r * x.length, x.length);
    }
    float[] out = new float[in.length];
    FastMath.exp(in, 0, out, 0, in.length);
    for (int i = 0; i < in.length; i++) {
      float expected = (float) Math.exp(in[i]);
      float scalar = FastMath.exp(in[i]);
      assertThat(Float.floatToRawIntBits(out[i])).isEqualTo(Float.floatToRawIntBits(scalar));
      if (Float.isNaN(expected)) {
        assertThat(out[i]).isNaN();
      } else if (Float.isInfinite(expected) || expected == 0) {
        assertThat(out[i]).as("exp(%s)", in[i]).isEqualTo(expected);
      } else if (expected < Float.MIN_NORMAL) {
        assertThat((double) out[i])
            .as("exp(%s)", in[i])
            .isCloseTo(expected, within(2.0 * Float.MIN_VALUE));
      } else {
        assertThat(Math.abs(out[i] - (double) expected) / expected)
            .as("exp(%s)", in[i])
            .isLessThan(MAX_REL_ERROR);
      }
    }
    assertThat(FastMath.exp(0f)).isEqualTo(1f);
  }

  @Test
  void sumSquaresAndMaxMatchPlainLoops() {
    Random random = new Random(2);
    for (int n : new int[] {0, 1, 7, 16, 33, 64, 65, 127, 200, 1000}) {
      float[] x = new float[n + 3];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) random.nextGaussian();
      }
      double squares = 0;
      float max = Float.NEGATIVE_INFINITY;
      for (int i = 0; i < n; i++) {
        squares += (double) x[3 + i] * x[3 + i];
        max = Math.max(max, x[3 + i]);
      }
      assertThat(FastMath.sumSquares(x, 3, n)).isCloseTo(squares, within(1e-12 * (1 + squares)));
      assertThat(FastMath.max(x, 3, n)).isEqualTo(max);
    }
  }

  /**
   * The vector max runs four chains over blocks of four vectors, then one chain, then scalars: a
   * NaN or the one +0 among -0s in any of those places gives what Math.max would.
   */
  @Test
  void maxKeepsJavasNanAndSignedZeroRulesWhereverTheValueFalls() {
    for (int n : new int[] {5, 16, 64, 100, 131}) {
      for (int at = 0; at < n; at++) {
        float[] x = new float[n + 2];
        java.util.Arrays.fill(x, -1f);
        x[2 + at] = Float.NaN;
        assertThat(FastMath.max(x, 2, n)).as("NaN at %d of %d", at, n).isNaN();

        java.util.Arrays.fill(x, -0f);
        x[2 + at] = 0f;
        assertThat(Float.floatToRawIntBits(FastMath.max(x, 2, n)))
            .as("+0 at %d of %d", at, n)
            .isEqualTo(Float.floatToRawIntBits(0f));
      }
      float[] zeros = new float[n];
      java.util.Arrays.fill(zeros, -0f);
      assertThat(Float.floatToRawIntBits(FastMath.max(zeros, 0, n)))
          .isEqualTo(Float.floatToRawIntBits(-0f));
    }
  }
}
