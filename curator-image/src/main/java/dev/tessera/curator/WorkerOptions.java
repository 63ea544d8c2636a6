package dev.tessera.curator;

import dev.tessera.data.progress.FileProgressReporter;
import dev.tessera.data.progress.ProgressReporter;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options every job worker takes the same way: its thread count and where it writes progress
 * reports (in a pod the operator runs, its progress ConfigMap: {@link
 * ProgressReporter#fromEnvironment}).
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
          "Write progress reports (stage, counts, outcome) as JSON to FILE (default: the"
              + " operator's ConfigMap when $TESSERA_PROGRESS_CONFIGMAP is set, else"
              + " $TESSERA_PROGRESS_FILE, else none).")
  Path progressFile;

  int threads() {
    return workers == null ? Runtime.getRuntime().availableProcessors() : workers;
  }

  /**
   * Progress reports for a job of {@code kind} ("PackJob", "CurationJob"): to --progress-file when
   * it is given, else where the environment says.
   */
  ProgressReporter progress(String kind) {
    return progressFile != null
        ? new FileProgressReporter(progressFile, kind)
        : ProgressReporter.fromEnvironment(kind);
  }
}
