package dev.tessera.engine.cpu.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Both micro-kernels, whichever this machine's vector width selects, against one FMA chain per
 * element in k order: bit for bit.
 */
class SimdGemmTest {
  private static final int NR = SimdGemm.nr();

  @ParameterizedTest
  @ValueSource(ints = {6, 12})
  void eachKernelIsOneFmaChainPerElement(int mr) {
    Random random = new Random(mr);
    int kc = 37;
    int ldc = NR + 3;
    float[] a = new float[5 + kc * mr];
    float[] b = new float[7 + kc * NR];
    float[] c = new float[2 + mr * ldc];
    for (float[] x : new float[][] {a, b, c}) {
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) random.nextGaussian();
      }
    }
    float alpha = 1.5f;
    float[] expected = c.clone();
    for (int i = 0; i < mr; i++) {
      for (int j = 0; j < NR; j++) {
        float sum = 0;
        for (int p = 0; p < kc; p++) {
          sum = Math.fma(a[5 + p * mr + i], b[7 + p * NR + j], sum);
        }
        int at = 2 + i * ldc + j;
        expected[at] = Math.fma(sum, alpha, expected[at]);
      }
    }
    if (mr == 6) {
      SimdGemm.kernel6(kc, a, 5, mr, b, 7, c, 2, ldc, c, 2, ldc, alpha);
    } else {
      SimdGemm.kernel12(kc, a, 5, mr, b, 7, c, 2, ldc, c, 2, ldc, alpha);
    }
    assertThat(c).containsExactly(expected);
    assertThat(SimdGemm.mr()).isIn(6, 12);
  }
}
