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

  private PerceptualHash() {}

  /** The hash of {@code image}. */
  public static long[] of(BufferedImage image) {
    return of(ImageSurvey.of(image).grey());
  }

  /** The hash from an image's 64×64 grey cells (see {@link ImageSurvey}). */
  static long[] of(double[][] grey) {
    // Separable DCT-II, keeping only the lowest frequencies in each direction.
    double[][] rows = new double[SIZE][LOW];
    for (int y = 0; y < SIZE; y++) {
      for (int u = 0; u < LOW; u++) {
        double sum = 0;
        for (int x = 0; x < SIZE; x++) {
          sum += grey[y][x] * COSINES[u][x];
        }
        rows[y][u] = sum;
      }
    }
    double[] values = new double[BITS];
    for (int v = 0; v < LOW; v++) {
      for (int u = 0; u < LOW; u++) {
        if (u == 0 && v == 0) {
          continue;
        }
        double sum = 0;
        for (int y = 0; y < SIZE; y++) {
          sum += rows[y][u] * COSINES[v][y];
        }
        values[v * LOW + u - 1] = sum;
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
