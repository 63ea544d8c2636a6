package dev.tessera.data.synth;

import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.webdataset.ShardWriter;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes synthetic image-text WebDataset shards: {@code shards × samplesPerShard} samples of simple
 * rendered scenes with captions and ground-truth JSON, some with injected {@link Defect}s, and a
 * {@code manifest.json}.
 *
 * <p>The same {@link SynthOptions} (threads aside) always give the same bytes: per-sample decisions
 * that depend on other samples are planned first in one pass ({@link SynthPlan}), then each sample
 * is rendered as a pure function of (seed, index, plan) by a pool of threads that works a bounded
 * window ahead of the single thread writing samples in index order.
 */
public final class SynthGenerator {
  /** Recorded in every sample and the manifest; bump when the same seed would give other data. */
  public static final String VERSION = "tessera-synth/1";

  /**
   * Samples rendered ahead of the writer per thread: enough to keep threads busy, bounded memory.
   */
  private static final int AHEAD_PER_THREAD = 8;

  private SynthGenerator() {}

  /**
   * Generates the shards described by {@code options} into {@code options.outDir()}.
   *
   * @throws IllegalArgumentException when the output directory holds something other than an
   *     earlier synth run (see {@link OutputDirectory#prepare})
   * @throws IOException when writing fails
   */
  public static SynthResult generate(SynthOptions options, SynthProgress progress)
      throws IOException {
    long start = System.nanoTime();
    OutputDirectory.prepare(options.outDir());
    int total = options.totalSamples();
    SynthPlan plan = SynthPlan.create(options.seed(), total, options.defectRate());
    SampleFactory factory = new SampleFactory(options.seed(), plan, options.samplesPerShard());
    Map<Defect, Long> defects = new EnumMap<>(Defect.class);
    ExecutorService pool =
        Executors.newFixedThreadPool(
            options.threads(),
            task -> {
              Thread thread = new Thread(task, "synth-render");
              thread.setDaemon(true);
              return thread;
            });
    ShardManifest manifest;
    try (ShardWriter writer =
        new ShardWriter(
            options.outDir(), ShardWriter.Options.samplesPerShard(options.samplesPerShard()))) {
      ArrayDeque<Future<SampleFactory.Generated>> ahead = new ArrayDeque<>();
      int window = options.threads() * AHEAD_PER_THREAD;
      int submitted = 0;
      for (int i = 0; i < total; i++) {
        while (submitted < total && ahead.size() < window) {
          int index = submitted++;
          ahead.add(pool.submit(() -> factory.create(index)));
        }
        SampleFactory.Generated generated = await(ahead.remove());
        writer.write(generated.sample());
        if (generated.defect() != null) {
          defects.merge(generated.defect(), 1L, Long::sum);
        }
        progress.written(i + 1L, total);
      }
      manifest = writer.writeManifest(spec(options));
    } finally {
      pool.shutdownNow();
    }
    return new SynthResult(manifest, defects, Duration.ofNanos(System.nanoTime() - start));
  }

  /** The manifest's lineage record; thread count is left out because it does not change output. */
  static Map<String, Object> spec(SynthOptions options) {
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("command", "synth");
    spec.put("generator", VERSION);
    spec.put("seed", options.seed());
    spec.put("shards", options.shards());
    spec.put("samplesPerShard", options.samplesPerShard());
    spec.put("defects", options.defectRate());
    return spec;
  }

  private static SampleFactory.Generated await(Future<SampleFactory.Generated> future)
      throws IOException {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("synthetic data generation was interrupted");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof UncheckedIOException unchecked) {
        throw unchecked.getCause();
      }
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException("rendering a sample failed", cause);
    }
  }
}
