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
    // Separable DCT-II, keeping only the lowest frequencies in each direction. The frequency is
    // the innermost loop: 16 independent sums instead of one long dependent chain.
    double[][] rows = new double[SIZE][LOW];
    for (int y = 0; y < SIZE; y++) {
      double[] row = rows[y];
      for (int x = 0; x < SIZE; x++) {
        double g = grey[y][x];
        double[] cosines = BY_POSITION[x];
        for (int u = 0; u < LOW; u++) {
          row[u] += g * cosines[u];
        }
      }
    }
    double[][] coefficients = new double[LOW][LOW];
    for (int y = 0; y < SIZE; y++) {
      double[] row = rows[y];
      double[] cosines = BY_POSITION[y];
      for (int v = 0; v < LOW; v++) {
        double c = cosines[v];
        double[] out = coefficients[v];
        for (int u = 0; u < LOW; u++) {
          out[u] += row[u] * c;
        }
      }
    }
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
