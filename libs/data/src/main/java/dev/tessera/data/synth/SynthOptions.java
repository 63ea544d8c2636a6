package dev.tessera.data.synth;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What {@link SynthGenerator} writes.
 *
 * @param outDir directory for the shards and {@code manifest.json}
 * @param shards number of shards, 1 to {@link #MAX_SHARDS}
 * @param samplesPerShard samples in each shard, at least 1
 * @param seed the seed; the same options give the same bytes
 * @param defectRate fraction of samples with an injected {@link Defect}, 0 to 1
 * @param threads rendering threads, at least 1; does not change the output
 */
public record SynthOptions(
    Path outDir, int shards, int samplesPerShard, long seed, double defectRate, int threads) {

  /** Shard names have five digits, as img2dataset writes them. */
  public static final int MAX_SHARDS = 100_000;

  public SynthOptions {
    Objects.requireNonNull(outDir, "outDir");
    if (shards < 1 || shards > MAX_SHARDS) {
      throw new IllegalArgumentException(
          "number of shards must be between 1 and " + MAX_SHARDS + ", got " + shards);
    }
    if (samplesPerShard < 1) {
      throw new IllegalArgumentException(
          "samples per shard must be at least 1, got " + samplesPerShard);
    }
    if ((long) shards * samplesPerShard > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "at most "
              + Integer.MAX_VALUE
              + " samples in total, asked for "
              + shards
              + " × "
              + samplesPerShard);
    }
    if (!(defectRate >= 0 && defectRate <= 1)) {
      throw new IllegalArgumentException("defect rate must be between 0 and 1, got " + defectRate);
    }
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1, got " + threads);
    }
  }

  /** Options with one rendering thread per available processor. */
  public static SynthOptions of(
      Path outDir, int shards, int samplesPerShard, long seed, double defectRate) {
    return new SynthOptions(
        outDir,
        shards,
        samplesPerShard,
        seed,
        defectRate,
        Runtime.getRuntime().availableProcessors());
  }

  public SynthOptions withThreads(int threads) {
    return new SynthOptions(outDir, shards, samplesPerShard, seed, defectRate, threads);
  }

  /** Total samples, {@code shards × samplesPerShard}. */
  public int totalSamples() {
    return shards * samplesPerShard;
  }
}
