package dev.tessera.engine.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The tile kernels on every row count up to 17 (the 8-, 4- and 1-row blocks and their mixes) and
 * odd and even numbers of column vectors, against sums in double precision.
 */
class AttentionKernelsTest {
  private static final int DEPTH = 19;

  @ParameterizedTest(name = "simd={0}")
  @ValueSource(booleans = {true, false})
  void scoresAndAccumulateOnEveryBlockShape(boolean simd) {
    boolean saved = AttentionKernels.simd;
    AttentionKernels.simd = simd && saved;
    try {
      int lanes = AttentionKernels.lanes();
      Random random = new Random(5);
      for (int rows = 1; rows <= 17; rows++) {
        for (int vectors = 1; vectors <= 5; vectors++) {
          int cols = vectors * lanes;
          checkScores(random, rows, cols);
          checkAccumulate(random, rows, cols);
        }
      }
    } finally {
      AttentionKernels.simd = saved;
    }
  }

  private static void checkScores(Random random, int rows, int cols) {
    int lda = DEPTH + 3;
    int ldb = cols + 5;
    int lds = cols + 7;
    float[] a = gaussian(random, 2 + rows * lda);
    float[] b = gaussian(random, 1 + DEPTH * ldb);
    float[] s = gaussian(random, 3 + rows * lds);
    float[] before = s.clone();
    AttentionKernels.scores(rows, cols, DEPTH, a, 2, lda, b, 1, ldb, s, 3, lds);
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        double sum = 0;
        for (int p = 0; p < DEPTH; p++) {
          sum += (double) a[2 + r * lda + p] * b[1 + p * ldb + c];
        }
        assertThat((double) s[3 + r * lds + c])
            .as("s[%d, %d] of %d x %d", r, c, rows, cols)
            .isCloseTo(sum, org.assertj.core.data.Offset.offset(1e-4 * (1 + Math.abs(sum))));
      }
      for (int c = cols; c < lds && 3 + r * lds + c < s.length; c++) {
        assertThat(s[3 + r * lds + c]).as("past the columns").isEqualTo(before[3 + r * lds + c]);
      }
    }
  }

  /** {@code c += w x} with w read transposed (strides 1 and rows), as backward's dk and dv do. */
  private static void checkAccumulate(Random random, int rows, int cols) {
    int from = 2;
    int to = from + DEPTH;
    int ldx = cols + 3;
    int ldc = cols + 9;
    float[] w = gaussian(random, 4 + to * rows);
    float[] x = gaussian(random, 1 + to * ldx);
    float[] c = gaussian(random, rows * ldc);
    float[] expected = new float[c.length];
    for (int r = 0; r < rows; r++) {
      for (int j = 0; j < cols; j++) {
        double sum = c[r * ldc + j];
        for (int p = from; p < to; p++) {
          sum += (double) w[4 + r + p * rows] * x[1 + p * ldx + j];
        }
        expected[r * ldc + j] = (float) sum;
      }
    }
    AttentionKernels.accumulate(rows, cols, from, to, w, 4, 1, rows, x, 1, ldx, c, 0, ldc);
    for (int r = 0; r < rows; r++) {
      for (int j = 0; j < cols; j++) {
        assertThat((double) c[r * ldc + j])
            .as("c[%d, %d] of %d x %d", r, j, rows, cols)
            .isCloseTo(
                expected[r * ldc + j],
                org.assertj.core.data.Offset.offset(1e-4 * (1 + Math.abs(expected[r * ldc + j]))));
      }
    }
  }

  private static float[] gaussian(Random random, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) random.nextGaussian();
    }
    return x;
  }
}
