package dev.tessera.data.synth;

import java.util.SplittableRandom;

/**
 * Derives independent random streams from (seed, sample index, purpose), so that every sample is a
 * pure function of its index and can be rendered on any thread in any order.
 */
final class Seeds {
  /** What a stream is used for; separate streams keep one decision from shifting another. */
  enum Purpose {
    PLAN,
    UID,
    CONTENT,
    RENDER,
    DEFECT
  }

  private Seeds() {}

  static SplittableRandom random(long seed, long index, Purpose purpose) {
    long h = mix(seed + 0x9E3779B97F4A7C15L * (purpose.ordinal() + 1));
    h = mix(h ^ mix(index + 0x632BE59BD9B4E019L));
    return new SplittableRandom(h);
  }

  /** The SplitMix64 finaliser: a bijection that scatters nearby inputs. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  static <T> T pick(T[] values, SplittableRandom rng) {
    return values[rng.nextInt(values.length)];
  }

  static <T> T pick(java.util.List<T> values, SplittableRandom rng) {
    return values.get(rng.nextInt(values.size()));
  }

  static double uniform(SplittableRandom rng, double low, double high) {
    return low + (high - low) * rng.nextDouble();
  }
}
