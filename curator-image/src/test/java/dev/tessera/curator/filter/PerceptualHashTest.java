package dev.tessera.curator.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class PerceptualHashTest {
  @Test
  void theFoldedTransformEqualsTheDctDefinition() {
    Random random = new Random(5);
    double[][] grey = new double[PerceptualHash.SIZE][PerceptualHash.SIZE];
    for (double[] row : grey) {
      for (int x = 0; x < row.length; x++) {
        row[x] = random.nextDouble() * 255;
      }
    }
    double[][] fast = PerceptualHash.lowFrequencies(grey);
    int n = PerceptualHash.SIZE;
    for (int v = 0; v < PerceptualHash.LOW; v++) {
      for (int u = 0; u < PerceptualHash.LOW; u++) {
        double direct = 0;
        for (int y = 0; y < n; y++) {
          for (int x = 0; x < n; x++) {
            direct +=
                grey[y][x]
                    * Math.cos((2 * x + 1) * u * Math.PI / (2 * n))
                    * Math.cos((2 * y + 1) * v * Math.PI / (2 * n));
          }
        }
        assertThat(fast[v][u]).as("coefficient (%d, %d)", v, u).isCloseTo(direct, within(1e-6));
      }
    }
  }

  @Test
  void aHashHasHalfItsBitsSet() {
    Random random = new Random(6);
    double[][] grey = new double[PerceptualHash.SIZE][PerceptualHash.SIZE];
    for (double[] row : grey) {
      for (int x = 0; x < row.length; x++) {
        row[x] = random.nextDouble();
      }
    }
    long[] hash = PerceptualHash.of(grey);
    int bits = 0;
    for (long word : hash) {
      bits += Long.bitCount(word);
    }
    // Above the median of 255 values: 127 of them.
    assertThat(bits).isEqualTo(PerceptualHash.BITS / 2);
  }
}
