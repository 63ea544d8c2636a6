package dev.tessera.curator;

import dev.tessera.data.synth.Defect;
import dev.tessera.data.synth.OutputDirectory;
import dev.tessera.data.synth.SynthGenerator;
import dev.tessera.data.synth.SynthOptions;
import dev.tessera.data.synth.SynthProgress;
import dev.tessera.data.synth.SynthResult;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code tessera-curator synth}: writes synthetic image-text WebDataset shards for tests, examples
 * and benchmarks (see {@code docs/synthetic-data.md}).
 */
@Command(
    name = "synth",
    mixinStandardHelpOptions = true,
    description = {
      "Writes synthetic image-text WebDataset shards (DIR/00000.tar ...) and DIR/manifest.json.",
      "The same seed gives the same bytes, whatever the thread count."
    })
public final class SynthCommand implements Callable<Integer> {
  /** Progress lines at most this often, and only for runs that last longer. */
  private static final long PROGRESS_INTERVAL_NANOS = 2_000_000_000L;

  @Spec private CommandSpec spec;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory.")
  private Path out;

  @Option(names = "--shards", required = true, paramLabel = "N", description = "Number of shards.")
  private int shards;

  @Option(
      names = "--samples-per-shard",
      required = true,
      paramLabel = "M",
      description = "Samples in each shard.")
  private int samplesPerShard;

  @Option(names = "--seed", required = true, paramLabel = "S", description = "Random seed.")
  private long seed;

  @Option(
      names = "--defects",
      defaultValue = "0",
      paramLabel = "RATE",
      description =
          "Fraction of samples with an injected defect, 0 to 1 (default: ${DEFAULT-VALUE}).")
  private double defects;

  @Option(
      names = "--threads",
      paramLabel = "T",
      description = "Rendering threads (default: one per processor); does not change the output.")
  private Integer threads;

  @Override
  public Integer call() {
    SynthOptions options;
    try {
      options =
          new SynthOptions(
              out,
              shards,
              samplesPerShard,
              seed,
              defects,
              threads == null ? Runtime.getRuntime().availableProcessors() : threads);
      OutputDirectory.check(out);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    } catch (IOException e) {
      return fail("cannot read output directory " + out + ": " + e.getMessage());
    }
    PrintWriter err = spec.commandLine().getErr();
    SynthResult result;
    try {
      result = SynthGenerator.generate(options, new ProgressLine(err));
    } catch (IOException | UncheckedIOException e) {
      return fail("writing synthetic shards to " + out + " failed: " + e.getMessage());
    } catch (IllegalArgumentException e) {
      return fail(e.getMessage());
    }
    printSummary(spec.commandLine().getOut(), result);
    return 0;
  }

  private int fail(String message) {
    spec.commandLine().getErr().println("synth: error: " + message);
    return 1;
  }

  private void printSummary(PrintWriter printer, SynthResult result) {
    printer.printf(
        Locale.ROOT,
        "synth: wrote %d samples in %d shards to %s (%.1f s, %.0f samples/s)%n",
        result.samples(),
        result.manifest().shardCount(),
        out,
        result.elapsed().toNanos() / 1e9,
        result.samplesPerSecond());
    StringBuilder counts = new StringBuilder();
    for (Map.Entry<Defect, Long> entry : new java.util.TreeMap<>(result.defects()).entrySet()) {
      counts.append(' ').append(entry.getKey().id()).append('=').append(entry.getValue());
    }
    printer.printf(
        Locale.ROOT,
        "synth: defects: %d%s%n",
        result.defectiveSamples(),
        counts.length() == 0 ? "" : " (" + counts.toString().trim() + ")");
    printer.flush();
  }

  /** Prints "synth: 5000/10000 samples (50%)" to stderr every few seconds. */
  private static final class ProgressLine implements SynthProgress {
    private final PrintWriter err;
    private final long start = System.nanoTime();
    private long lastPrinted = start;

    ProgressLine(PrintWriter err) {
      this.err = err;
    }

    @Override
    public void written(long done, long total) {
      long now = System.nanoTime();
      if (now - lastPrinted < PROGRESS_INTERVAL_NANOS || done == total) {
        return;
      }
      lastPrinted = now;
      double rate = done / ((now - start) / 1e9);
      err.printf(
          Locale.ROOT,
          "synth: %d/%d samples (%d%%), %.0f samples/s%n",
          done,
          total,
          done * 100 / total,
          rate);
      err.flush();
    }
  }
}
