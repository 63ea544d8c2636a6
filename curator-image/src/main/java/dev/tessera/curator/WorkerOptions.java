package dev.tessera.curator;

import dev.tessera.data.progress.FileProgressReporter;
import dev.tessera.data.progress.ProgressReporter;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options every job worker takes the same way: its thread count and where it writes progress
 * reports for the operator (the pod sets {@code $TESSERA_PROGRESS_FILE}).
 */
final class WorkerOptions {
  @Option(
      names = "--workers",
      paramLabel = "N",
      description = "Worker threads (default: one per processor); does not change the output.")
  Integer workers;

  @Option(
      names = "--progress-file",
      paramLabel = "FILE",
      description =
          "Write progress reports (stage, counts, outcome) as JSON to FILE (default:"
              + " $TESSERA_PROGRESS_FILE, else none).")
  Path progressFile =
      System.getenv(ProgressReporter.FILE_VARIABLE) == null
          ? null
          : Path.of(System.getenv(ProgressReporter.FILE_VARIABLE));

  int threads() {
    return workers == null ? Runtime.getRuntime().availableProcessors() : workers;
  }

  /** Progress reports for a job of {@code kind} ("PackJob", "CurationJob"). */
  ProgressReporter progress(String kind) {
    return progressFile == null
        ? ProgressReporter.NONE
        : new FileProgressReporter(progressFile, kind);
  }
}
