package dev.tessera.curator.filter;

import java.awt.image.BufferedImage;
import java.util.Arrays;

/**
 * A 255-bit DCT perceptual hash: the image reduced to 64×64 grey levels by area averaging, its 2-D
 * DCT-II, and one bit per coefficient of the lowest 16×16 frequencies (the DC term excluded) saying
 * whether it lies above their median. Resizing and re-encoding move few bits (under 25 of 255 on
 * the synthetic near duplicates); different images differ in about half. The common 64-bit pHash
 * (8×8 frequencies) is too coarse for images that share a plain background: distinct synthetic
 * scenes collide in it.
 *
 * <p>Hashes are {@code long[4]}, bit {@code i} in word {@code i / 64}.
 */
public final class PerceptualHash {
  static final int SIZE = 64;
  static final int LOW = 16;
  public static final int BITS = LOW * LOW - 1;
  private static final double[][] COSINES = cosines();

  /** {@link #COSINES} transposed: [position][frequency]. */
  private static final double[][] BY_POSITION = transpose(COSINES);

  private PerceptualHash() {}

  /** The hash of {@code image}. */
  public static long[] of(BufferedImage image) {
    return of(ImageSurvey.of(image).grey());
  }

  /** The hash from an image's 64×64 grey cells (see {@link ImageSurvey}). */
  static long[] of(double[][] grey) {
    double[][] coefficients = lowFrequencies(grey);
    double[] values = new double[BITS];
    for (int v = 0; v < LOW; v++) {
      for (int u = 0; u < LOW; u++) {
        if (u != 0 || v != 0) {
          values[v * LOW + u - 1] = coefficients[v][u];
        }
      }
    }
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    double median = sorted[sorted.length / 2];
    long[] hash = new long[4];
    for (int i = 0; i < values.length; i++) {
      if (values[i] > median) {
        hash[i >>> 6] |= 1L << i;
      }
    }
    return hash;
  }

  /**
   * The lowest {@link #LOW}×{@link #LOW} coefficients of the 2-D DCT-II of a 64×64 grid, [v][u]
   * (unnormalised). Separable, and folded: cos((2x+1)uπ/2N) at x and N-1-x differ only by the sign
   * (-1)^u, so each pass first forms the sums and differences of mirrored pairs and multiplies the
   * even frequencies by the sums, the odd ones by the differences — half the multiplications.
   */
  static double[][] lowFrequencies(double[][] grey) {
    int half = SIZE / 2;
    double[][] rows = new double[SIZE][LOW];
    for (int y = 0; y < SIZE; y++) {
      double[] in = grey[y];
      double[] row = rows[y];
      for (int x = 0; x < half; x++) {
        double sum = in[x] + in[SIZE - 1 - x];
        double difference = in[x] - in[SIZE - 1 - x];
        double[] cosines = BY_POSITION[x];
        // The frequency is the innermost loop: independent sums, not one dependent chain.
        for (int u = 0; u < LOW; u += 2) {
          row[u] += sum * cosines[u];
          row[u + 1] += difference * cosines[u + 1];
        }
      }
    }
    double[][] coefficients = new double[LOW][LOW];
    double[] sums = new double[LOW];
    double[] differences = new double[LOW];
    for (int y = 0; y < half; y++) {
      double[] top = rows[y];
      double[] bottom = rows[SIZE - 1 - y];
      for (int u = 0; u < LOW; u++) {
        sums[u] = top[u] + bottom[u];
        differences[u] = top[u] - bottom[u];
      }
      double[] cosines = BY_POSITION[y];
      for (int v = 0; v < LOW; v += 2) {
        double even = cosines[v];
        double odd = cosines[v + 1];
        double[] outEven = coefficients[v];
        double[] outOdd = coefficients[v + 1];
        for (int u = 0; u < LOW; u++) {
          outEven[u] += sums[u] * even;
          outOdd[u] += differences[u] * odd;
        }
      }
    }
    return coefficients;
  }

  /** Bits in which two hashes differ. */
  public static int distance(long[] a, long[] b) {
    int bits = 0;
    for (int i = 0; i < a.length; i++) {
      bits += Long.bitCount(a[i] ^ b[i]);
    }
    return bits;
  }

  private static double[][] transpose(double[][] table) {
    double[][] out = new double[table[0].length][table.length];
    for (int i = 0; i < table.length; i++) {
      for (int j = 0; j < table[0].length; j++) {
        out[j][i] = table[i][j];
      }
    }
    return out;
  }

  private static double[][] cosines() {
    double[][] table = new double[LOW][SIZE];
    for (int u = 0; u < LOW; u++) {
      for (int x = 0; x < SIZE; x++) {
        table[u][x] = Math.cos((2 * x + 1) * u * Math.PI / (2 * SIZE));
      }
    }
    return table;
  }
}
