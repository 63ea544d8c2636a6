package dev.tessera.data.synth;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The per-sample decisions that depend on earlier samples (which sample is defective, in which way,
 * and which earlier clean sample a duplicate copies), made up front in one sequential pass so that
 * samples can then be rendered independently and in parallel.
 */
final class SynthPlan {
  private static final byte CLEAN = -1;
  private static final Defect[] DEFECTS = Defect.values();

  private final byte[] defects;
  private final int[] sources;

  private SynthPlan(byte[] defects, int[] sources) {
    this.defects = defects;
    this.sources = sources;
  }

  /**
   * Each sample is defective with probability {@code rate}, the defect drawn uniformly. A duplicate
   * needs an earlier clean sample to copy; one drawn before any exists makes its sample clean (so
   * even at rate 1 the first sample or so is clean and serves as a source).
   */
  static SynthPlan create(long seed, int total, double rate) {
    SplittableRandom rng = Seeds.random(seed, 0, Seeds.Purpose.PLAN);
    byte[] defects = new byte[total];
    int[] sources = new int[total];
    Arrays.fill(sources, -1);
    int[] clean = new int[Math.min(total, 1024)];
    int cleanCount = 0;
    for (int i = 0; i < total; i++) {
      Defect defect = rng.nextDouble() < rate ? DEFECTS[rng.nextInt(DEFECTS.length)] : null;
      if (defect != null && defect.needsSource()) {
        if (cleanCount == 0) {
          defect = null;
        } else {
          sources[i] = clean[rng.nextInt(cleanCount)];
        }
      }
      if (defect == null) {
        defects[i] = CLEAN;
        if (cleanCount == clean.length) {
          clean = Arrays.copyOf(clean, Math.max(16, clean.length * 2));
        }
        clean[cleanCount++] = i;
      } else {
        defects[i] = (byte) defect.ordinal();
      }
    }
    return new SynthPlan(defects, sources);
  }

  int size() {
    return defects.length;
  }

  /** The defect of sample {@code index}, or {@code null} when it is clean. */
  Defect defect(int index) {
    byte d = defects[index];
    return d == CLEAN ? null : DEFECTS[d];
  }

  /** The clean sample a duplicate copies; -1 for other samples. */
  int source(int index) {
    return sources[index];
  }
}
