package dev.tessera.engine.cpu;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.oracle.Torch;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GemmTest {
  private final int threads = Parallel.threads();

  @AfterEach
  void restoreThreads() {
    Parallel.setThreads(threads);
  }

  /** A row-major [rows, cols] matrix stored with leading dimension {@code ld} after offset. */
  private record Strided(float[] data, int offset, int ld, float[] dense) {
    static Strided random(Random random, int rows, int cols, int pad, int offset) {
      int ld = cols + pad;
      float[] data = randn(random, offset + rows * ld + 3, 1.0);
      float[] dense = new float[rows * cols];
      for (int i = 0; i < rows; i++) {
        System.arraycopy(data, offset + i * ld, dense, i * cols, cols);
      }
      return new Strided(data, offset, ld, dense);
    }

    float[] denseAfter() {
      int cols = dense.length == 0 ? 0 : dense.length / rowsOf();
      float[] out = new float[dense.length];
      for (int i = 0; i < rowsOf(); i++) {
        System.arraycopy(data, offset + i * ld, out, i * cols, cols);
      }
      return out;
    }

    private int rowsOf() {
      return (data.length - offset - 3) / ld;
    }
  }

  @ParameterizedTest(name = "{0}{1} M={2} N={3} K={4} alpha={5} beta={6}")
  @CsvSource({
    "false,false,1,1,1,1,0",
    "false,true,7,33,1,1,0",
    "true,false,1,100,129,0.5,1",
    "true,true,33,7,100,-1.5,0.25",
    "false,false,100,129,33,1,1",
    "false,true,129,100,257,1,0",
    "true,false,129,100,257,2,-1",
    "false,true,3,2100,5,1,0.5",
    "false,true,8,300,70,-2,0",
    "false,true,9,50,70,1,0.25",
    "true,true,70,17,300,1,0",
  })
  void matchesLibtorch(
      boolean transA, boolean transB, int m, int n, int k, float alpha, float beta) {
    Random random = new Random(m * 1_000_003L + n * 1009L + k);
    Strided a = Strided.random(random, transA ? k : m, transA ? m : k, 5, 3);
    Strided b = Strided.random(random, transB ? n : k, transB ? k : n, 17, 1);
    Strided c = Strided.random(random, m, n, 19, 7);
    float[] before = c.data.clone();
    Gemm.sgemm(
        transA, transB, m, n, k, alpha, a.data, a.offset, a.ld, b.data, b.offset, b.ld, beta,
        c.data, c.offset, c.ld);

    org.bytedeco.pytorch.Tensor ta = Torch.tensor(a.dense, transA ? k : m, transA ? m : k);
    org.bytedeco.pytorch.Tensor tb = Torch.tensor(b.dense, transB ? n : k, transB ? k : n);
    org.bytedeco.pytorch.Tensor tc = Torch.tensor(c.dense, m, n);
    org.bytedeco.pytorch.Tensor expected =
        (transA ? ta.t() : ta)
            .matmul(transB ? tb.t() : tb)
            .mul(Torch.tensor(new float[] {alpha}, 1))
            .add(tc.mul(Torch.tensor(new float[] {beta}, 1)));
    assertClose("C", c.denseAfter(), Torch.values(expected));
    // Nothing outside C's rows and columns is touched.
    for (int i = 0; i < before.length; i++) {
      int rel = i - c.offset;
      boolean inside = rel >= 0 && rel / c.ld < m && rel % c.ld < n;
      if (!inside) {
        assertThat(c.data[i]).as("element %d outside C", i).isEqualTo(before[i]);
      }
    }
  }

  @Test
  void betaZeroIgnoresNaNInC() {
    float[] a = {1, 2, 3, 4};
    float[] b = {1, 0, 0, 1};
    float[] c = {Float.NaN, Float.NaN, Float.NaN, Float.NaN};
    Gemm.sgemm(false, false, 2, 2, 2, 1f, a, 0, 2, b, 0, 2, 0f, c, 0, 2);
    assertThat(c).containsExactly(1, 2, 3, 4);
    Gemm.sgemm(false, false, 2, 2, 0, 1f, a, 0, 2, b, 0, 2, 0.5f, c, 0, 2);
    assertThat(c).containsExactly(0.5f, 1, 1.5f, 2);
  }

  @ParameterizedTest(name = "{0}{1}")
  @CsvSource({"false,false", "false,true", "true,false", "true,true"})
  void bitIdenticalForAnyThreadCount(boolean transA, boolean transB) {
    int m = 203;
    int n = 150;
    int k = 300;
    Random random = new Random(7);
    float[] a = randn(random, m * k, 1.0);
    float[] b = randn(random, k * n, 1.0);
    float[] c0 = randn(random, m * n, 1.0);
    float[][] results = new float[3][];
    int[] counts = {1, 2, 3};
    for (int t = 0; t < counts.length; t++) {
      Parallel.setThreads(counts[t]);
      float[] c = c0.clone();
      Gemm.sgemm(
          transA,
          transB,
          m,
          n,
          k,
          0.75f,
          a,
          0,
          transA ? m : k,
          b,
          0,
          transB ? k : n,
          0.5f,
          c,
          0,
          n);
      results[t] = c;
    }
    assertThat(results[1]).isEqualTo(results[0]);
    assertThat(results[2]).isEqualTo(results[0]);
  }

  @ParameterizedTest(name = "batch={0} threads={1}")
  @CsvSource({"1,2", "5,1", "5,2"})
  void batchedMatchesSingleProducts(int batch, int threads) {
    Parallel.setThreads(threads);
    int m = 33;
    int n = 17;
    int k = 65;
    int strideA = m * k + 4;
    int strideB = n * k + 1;
    int strideC = m * n + 9;
    Random random = new Random(batch);
    float[] a = randn(random, batch * strideA, 1.0);
    float[] b = randn(random, batch * strideB, 1.0);
    float[] c = randn(random, batch * strideC, 1.0);
    float[] before = c.clone();
    float[] expected = c.clone();
    for (int i = 0; i < batch; i++) {
      Gemm.sgemm(
          false,
          true,
          m,
          n,
          k,
          1f,
          a,
          i * strideA,
          k,
          b,
          i * strideB,
          k,
          1f,
          expected,
          i * strideC,
          n);
    }
    Gemm.sgemmBatched(
        false, true, batch, m, n, k, 1f, a, 0, k, strideA, b, 0, k, strideB, 1f, c, 0, n, strideC);
    assertThat(c).isEqualTo(expected);
    // And the last product against libtorch.
    int last = batch - 1;
    org.bytedeco.pytorch.Tensor reference =
        Torch.tensor(Arrays.copyOfRange(a, last * strideA, last * strideA + m * k), m, k)
            .matmul(
                Torch.tensor(Arrays.copyOfRange(b, last * strideB, last * strideB + n * k), n, k)
                    .t())
            .add(
                Torch.tensor(
                    Arrays.copyOfRange(before, last * strideC, last * strideC + m * n), m, n));
    assertClose(
        "C[last]",
        Arrays.copyOfRange(c, last * strideC, last * strideC + m * n),
        Torch.values(reference));
  }

  /**
   * beta 0: NaNs in C must not leak, in full and edge blocks and past the first k block, and the
   * result must equal the product on a zeroed C bit for bit.
   */
  @ParameterizedTest(name = "{0}{1} M={2} N={3} K={4}")
  @CsvSource({
    "false,false,13,70,300",
    "true,false,100,33,257",
    "false,true,7,65,5",
    "true,true,31,40,513",
  })
  void betaZeroMatchesZeroedC(boolean transA, boolean transB, int m, int n, int k) {
    Random random = new Random(m + n + k);
    float[] a = randn(random, m * k, 1.0);
    float[] b = randn(random, k * n, 1.0);
    float[] nan = new float[m * n];
    Arrays.fill(nan, Float.NaN);
    float[] zero = new float[m * n];
    int lda = transA ? m : k;
    int ldb = transB ? k : n;
    Gemm.sgemm(transA, transB, m, n, k, 1.5f, a, 0, lda, b, 0, ldb, 0f, nan, 0, n);
    Gemm.sgemm(transA, transB, m, n, k, 1.5f, a, 0, lda, b, 0, ldb, 1f, zero, 0, n);
    assertThat(nan).isEqualTo(zero);
  }

  /**
   * A product of few rows and columns packs a long k block at a time, but its sums are chained per
   * {@code KC} steps like any other: bit for bit, one call over k is the calls over its KC-step
   * slices, each adding to the last.
   */
  @ParameterizedTest(name = "{0}{1}")
  @CsvSource({"false,false", "false,true", "true,false", "true,true"})
  void longKBlocksChainSumsPerKcSteps(boolean transA, boolean transB) {
    int m = 29;
    int n = 40;
    int k = 3 * Gemm.KC + 77;
    assertThat(Gemm.kBlock(m, n, k)).as("one k block").isEqualTo(k);
    Random random = new Random(11);
    float[] a = randn(random, m * k, 1.0);
    float[] b = randn(random, k * n, 1.0);
    int lda = transA ? m : k;
    int ldb = transB ? k : n;
    float[] whole = new float[m * n];
    Gemm.sgemm(transA, transB, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, whole, 0, n);
    float[] sliced = new float[m * n];
    for (int p0 = 0; p0 < k; p0 += Gemm.KC) {
      int steps = Math.min(Gemm.KC, k - p0);
      // Slice p0 of op(A) is its columns [p0, p0 + steps); of op(B), its rows.
      int aOffset = transA ? p0 * lda : p0;
      int bOffset = transB ? p0 : p0 * ldb;
      Gemm.sgemm(
          transA,
          transB,
          m,
          n,
          steps,
          1f,
          a,
          aOffset,
          lda,
          b,
          bOffset,
          ldb,
          p0 == 0 ? 0f : 1f,
          sliced,
          0,
          n);
    }
    assertThat(whole).isEqualTo(sliced);
  }

  /**
   * The packed layout of op(A) panels, for both storage orders, with edge rows zero-padded. With
   * {@code tight} A ends with the packed block: a transposed A's whole-vector copies, which read
   * past a run, must stop short of the array's end.
   */
  @ParameterizedTest(name = "transA={0} rows={1} tight={2}")
  @CsvSource({
    "false,17,false",
    "true,17,false",
    "true,12,false",
    "true,5,false",
    "false,5,false",
    "true,12,true",
    "true,17,true",
    "true,24,true",
    "false,17,true"
  })
  void packAMatchesDefinition(boolean transA, int rows, boolean tight) {
    int mr = Gemm.MR;
    int aOff = 5;
    int i0 = 3;
    int p0 = 2;
    int kc = 9;
    int totalRows = i0 + rows + (tight ? 0 : 2);
    int totalK = p0 + kc + (tight ? 0 : 1);
    int lda = (transA ? totalRows : totalK) + (tight ? 0 : 4);
    float[] a = randn(new Random(rows), aOff + lda * (transA ? totalK : totalRows), 1.0);
    int panels = (rows + mr - 1) / mr;
    int stride = Gemm.aPanelStride(kc);
    assertThat(stride).isGreaterThanOrEqualTo(mr * kc);
    float[] dst = new float[panels * stride];
    Arrays.fill(dst, Float.NaN);
    Gemm.packA(transA, a, aOff, lda, i0, rows, p0, kc, dst);
    for (int ip = 0; ip < panels; ip++) {
      for (int p = 0; p < kc; p++) {
        for (int ii = 0; ii < mr; ii++) {
          int i = ip * mr + ii;
          float expected =
              i >= rows
                  ? 0f
                  : transA ? a[aOff + (p0 + p) * lda + i0 + i] : a[aOff + (i0 + i) * lda + p0 + p];
          assertThat(dst[ip * stride + p * mr + ii])
              .as("panel %d p %d row %d", ip, p, ii)
              .isEqualTo(expected);
        }
      }
    }
  }

  @Test
  void rejectsBadArguments() {
    float[] x = new float[12];
    assertThatThrownBy(() -> Gemm.sgemm(false, false, 3, 4, 2, 1, x, 0, 1, x, 0, 4, 0, x, 0, 4))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lda=1");
    assertThatThrownBy(() -> Gemm.sgemm(false, false, 3, 4, 2, 1, x, 0, 2, x, 0, 4, 0, x, 1, 4))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("c [3 x 4] at offset 1");
    assertThatThrownBy(() -> Gemm.sgemm(false, false, -1, 4, 2, 1, x, 0, 2, x, 0, 4, 0, x, 0, 4))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("m=-1");
  }
}
