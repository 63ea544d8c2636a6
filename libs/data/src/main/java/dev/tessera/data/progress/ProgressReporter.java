package dev.tessera.data.progress;

import java.util.Map;

/**
 * How a worker reports progress to whoever runs it (DESIGN.md §4): the operator, through a per-run
 * ConfigMap; the local runner, or nobody, through a file. Workers call it freely: reports are
 * throttled by the implementation, phase changes and checkpoints are written at once.
 */
public interface ProgressReporter extends AutoCloseable {
  /** Environment variable naming the file reports go to when no cluster is involved. */
  String FILE_VARIABLE = "TESSERA_PROGRESS_FILE";

  /** A reporter that reports nothing. */
  ProgressReporter NONE =
      new ProgressReporter() {
        @Override
        public void progress(Map<String, Object> progress) {}

        @Override
        public void checkpoint(Map<String, Object> checkpoint) {}

        @Override
        public void phase(String phase, String message) {}

        @Override
        public void close() {}
      };

  /** The latest figures (step, loss, samples, …); replaces the previous ones. */
  void progress(Map<String, Object> progress);

  /** A completed checkpoint (step, path, loss, …); the last few are kept. */
  void checkpoint(Map<String, Object> checkpoint);

  /** A phase change ({@code Running}, {@code Succeeded}, {@code Failed}) with a reason. */
  void phase(String phase, String message);

  /** Writes what is pending. */
  @Override
  void close();

  /**
   * The reporter the environment asks for: in a pod the operator runs ({@code
   * $TESSERA_PROGRESS_CONFIGMAP} set and the service account mounted), a {@link
   * ConfigMapProgressReporter}; else a {@link FileProgressReporter} on {@code
   * $TESSERA_PROGRESS_FILE}; else {@link #NONE}.
   *
   * @param kind the resource kind reported ({@code PackJob}, {@code PretrainRun}, …)
   */
  static ProgressReporter fromEnvironment(String kind) {
    return JsonProgressReporter.fromEnvironment(
        kind, System.getenv(), ConfigMapProgressReporter.SERVICE_ACCOUNT);
  }
}
