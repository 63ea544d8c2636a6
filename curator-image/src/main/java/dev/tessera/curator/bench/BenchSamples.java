package dev.tessera.curator.bench;

import dev.tessera.data.synth.SynthGenerator;
import dev.tessera.data.synth.SynthOptions;
import dev.tessera.data.synth.SynthProgress;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardList;
import dev.tessera.data.webdataset.WebDatasetReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Synthetic samples held in memory, and clean-up of a benchmark's scratch directory. */
final class BenchSamples {
  private BenchSamples() {}

  /**
   * {@code samples} synthetic samples without defects (one shard written under {@code dir}), each
   * with its own copy of the members, so they outlive the shard file.
   */
  static List<Sample> synthetic(Path dir, int samples, long seed) throws IOException {
    SynthGenerator.generate(new SynthOptions(dir, 1, samples, seed, 0.0, 2), SynthProgress.NONE);
    List<Sample> pool = new ArrayList<>();
    try (WebDatasetReader reader =
        WebDatasetReader.open(ShardList.resolve(dir, "."), ReadOptions.anySample())) {
      reader.forEachRemaining(s -> pool.add(Sample.of(s.key(), s.members())));
    }
    return pool;
  }

  /** Deletes {@code dir} and everything below it. */
  static void deleteTree(Path dir) throws IOException {
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
