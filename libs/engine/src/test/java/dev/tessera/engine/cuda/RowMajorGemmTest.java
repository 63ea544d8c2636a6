package dev.tessera.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RowMajorGemmTest {
  /** Column-major reference GEMM, as cuBLAS defines it: C = op(A) op(B), A m×k after op. */
  private static float[] columnMajorGemm(
      RowMajorGemm.ColumnMajor cm, float[] a, float[] b, int outLength) {
    float[] c = new float[outLength];
    for (int col = 0; col < cm.n(); col++) {
      for (int row = 0; row < cm.m(); row++) {
        float sum = 0;
        for (int p = 0; p < cm.k(); p++) {
          float x = cm.transA() ? a[p + row * cm.lda()] : a[row + p * cm.lda()];
          float y = cm.transB() ? b[col + p * cm.ldb()] : b[p + col * cm.ldb()];
          sum += x * y;
        }
        c[row + col * cm.ldc()] = sum;
      }
    }
    return c;
  }

  private static float[] random(SplittableRandom random, int n) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextDouble(-1, 1);
    }
    return values;
  }

  @Test
  void theColumnMajorCallComputesTheRowMajorProductForEveryTransposeCombination() {
    SplittableRandom random = new SplittableRandom(7);
    int m = 5;
    int n = 7;
    int k = 3;
    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        // Strides wider than the rows, so a swapped leading dimension would show.
        int lda = (ta ? m : k) + 2;
        int ldb = (tb ? k : n) + 3;
        int ldc = n + 1;
        RowMajorGemm gemm = new RowMajorGemm(ta, tb, m, n, k, lda, ldb, ldc);
        float[] a = random(random, (int) gemm.extentA());
        float[] b = random(random, (int) gemm.extentB());
        float[] expected = new float[(int) gemm.extentC()];
        for (int i = 0; i < m; i++) {
          for (int j = 0; j < n; j++) {
            float sum = 0;
            for (int p = 0; p < k; p++) {
              float x = ta ? a[p * lda + i] : a[i * lda + p];
              float y = tb ? b[j * ldb + p] : b[p * ldb + j];
              sum += x * y;
            }
            expected[i * ldc + j] = sum;
          }
        }
        RowMajorGemm.ColumnMajor cm = gemm.toColumnMajor();
        // cuBLAS's first operand is our B, its second our A.
        float[] actual = columnMajorGemm(cm, b, a, expected.length);
        for (int i = 0; i < m; i++) {
          for (int j = 0; j < n; j++) {
            assertThat(actual[i * ldc + j])
                .as("transA=%s transB=%s C[%d,%d]", ta, tb, i, j)
                .isCloseTo(expected[i * ldc + j], org.assertj.core.data.Offset.offset(1e-5f));
          }
        }
        // The stored shapes handed to cublasLtMatrixLayoutCreate cover the leading dimensions.
        assertThat(cm.lda()).isGreaterThanOrEqualTo(cm.rowsA());
        assertThat(cm.ldb()).isGreaterThanOrEqualTo(cm.rowsB());
        assertThat(cm.ldc()).isGreaterThanOrEqualTo(cm.m());
      }
    }
  }

  @Test
  void stridesShorterThanTheRowsAreRefusedWithTheOperandNamed() {
    assertThatThrownBy(() -> new RowMajorGemm(false, true, 4, 5, 6, 5, 6, 5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("A's row stride 5 is shorter than its rows of 6");
    assertThatThrownBy(() -> new RowMajorGemm(false, false, 4, 5, 6, 6, 4, 5))
        .hasMessageContaining("B's row stride 4");
    assertThatThrownBy(() -> new RowMajorGemm(false, false, 4, 5, 6, 6, 5, 3))
        .hasMessageContaining("C's row stride 3");
    assertThatThrownBy(() -> RowMajorGemm.packed(false, false, -1, 5, 6))
        .hasMessageContaining("M=-1");
  }

  @Test
  void packedStridesAreTheRowLengths() {
    RowMajorGemm gemm = RowMajorGemm.packed(true, false, 8, 9, 10);
    assertThat(gemm.lda()).isEqualTo(8);
    assertThat(gemm.ldb()).isEqualTo(9);
    assertThat(gemm.ldc()).isEqualTo(9);
    assertThat(gemm.extentA()).isEqualTo(80);
    assertThat(gemm.extentC()).isEqualTo(72);
    assertThat(gemm.label()).isEqualTo("A^TB 8x9x10");
  }
}
