package dev.tessera.data.synth;

import dev.tessera.data.manifest.ShardManifest;
import java.time.Duration;
import java.util.Map;

/**
 * What a {@link SynthGenerator} run wrote.
 *
 * @param manifest the manifest written next to the shards
 * @param defects how many samples carry each defect (only defects that occurred)
 * @param elapsed wall time of the run
 */
public record SynthResult(ShardManifest manifest, Map<Defect, Long> defects, Duration elapsed) {
  public SynthResult {
    defects = Map.copyOf(defects);
  }

  public long samples() {
    return manifest.samples();
  }

  public long defectiveSamples() {
    return defects.values().stream().mapToLong(Long::longValue).sum();
  }

  public double samplesPerSecond() {
    double seconds = Math.max(1e-9, elapsed.toNanos() / 1e9);
    return samples() / seconds;
  }
}
