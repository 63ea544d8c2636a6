package dev.tessera.data.progress;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A reporter whose every report is one JSON document: {@code {"version", "kind", "phase",
 * "message", "progress", "checkpoints", "latestCheckpoint", "updated"}}; subclasses say where it
 * goes ({@link #publish}). The version grows with every report, so a reader can tell a new report
 * from one it has seen. Progress is reported at most every {@code interval}; phases and checkpoints
 * at once.
 *
 * <p>Reporting is best effort: a report that cannot be published never stops the worker. What it
 * held stays pending and goes out with the next report that is not throttled (a phase, a
 * checkpoint, progress once the wait has passed since the failed attempt) or at {@link #close()}.
 * Attempts, not successes, are throttled, and each failure doubles the wait between progress
 * attempts (up to {@link #MAX_WAIT}; a success resets it), so a destination out of reach, where an
 * attempt may take seconds, slows the worker little.
 */
public abstract class JsonProgressReporter implements ProgressReporter {
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(2);

  /** The longest wait between progress attempts after failures. */
  public static final Duration MAX_WAIT = Duration.ofSeconds(30);

  /** Checkpoints listed, newest last. */
  public static final int CHECKPOINTS_KEPT = 5;

  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  private final String kind;
  private final Clock clock;
  private final Duration interval;
  private final List<Map<String, Object>> checkpoints = new ArrayList<>();
  private Map<String, Object> progress = Map.of();
  private String phase = "Running";
  private String message = "";
  private long version;
  private long lastAttempt;
  private long wait;
  private boolean attempted;
  private boolean pending;
  private boolean failing;

  /**
   * @param kind the resource kind reported ({@code PackJob}, {@code PretrainRun}, …)
   * @param clock the time of reports and of throttling
   * @param interval the least time between two progress reports
   */
  protected JsonProgressReporter(String kind, Clock clock, Duration interval) {
    this.kind = kind;
    this.clock = clock;
    this.interval = interval;
    this.wait = interval.toMillis();
  }

  /**
   * {@link ProgressReporter#fromEnvironment} on {@code env}, with the service account mounted at
   * {@code serviceAccount}.
   */
  static ProgressReporter fromEnvironment(
      String kind, Map<String, String> env, Path serviceAccount) {
    Optional<ConfigMapProgressReporter.Target> cluster =
        ConfigMapProgressReporter.Target.fromEnvironment(env, serviceAccount);
    if (cluster.isPresent()) {
      return new ConfigMapProgressReporter(cluster.get(), kind);
    }
    String configMap = env.get(ConfigMapProgressReporter.CONFIGMAP_VARIABLE);
    if (configMap != null && !configMap.isBlank()) {
      System.err.printf(
          "progress: $%s is set but there is no API server ($KUBERNETES_SERVICE_HOST) or service"
              + " account (token, ca.crt, namespace in %s); not reporting to the ConfigMap%n",
          ConfigMapProgressReporter.CONFIGMAP_VARIABLE, serviceAccount);
    }
    String file = env.get(FILE_VARIABLE);
    return file == null || file.isBlank() ? NONE : new FileProgressReporter(Path.of(file), kind);
  }

  /**
   * Delivers one report, the whole document in UTF-8.
   *
   * @throws IOException (or a runtime exception) when it did not get through; it is retried
   */
  protected abstract void publish(byte[] json) throws IOException;

  /** Told the first failure after a success (or at the start), so it can be logged once. */
  protected void failed(Exception cause) {}

  @Override
  public synchronized void progress(Map<String, Object> progress) {
    this.progress = new LinkedHashMap<>(progress);
    pending = true;
    if (!attempted || clock.millis() - lastAttempt >= wait) {
      report();
    }
  }

  @Override
  public synchronized void checkpoint(Map<String, Object> checkpoint) {
    checkpoints.add(new LinkedHashMap<>(checkpoint));
    while (checkpoints.size() > CHECKPOINTS_KEPT) {
      checkpoints.remove(0);
    }
    report();
  }

  @Override
  public synchronized void phase(String phase, String message) {
    this.phase = phase;
    this.message = message == null ? "" : message;
    report();
  }

  @Override
  public synchronized void close() {
    if (pending) {
      report();
    }
  }

  private void report() {
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("version", ++version);
    report.put("kind", kind);
    report.put("phase", phase);
    report.put("message", message);
    report.put("progress", progress);
    report.put("checkpoints", checkpoints);
    report.put(
        "latestCheckpoint", checkpoints.isEmpty() ? null : checkpoints.get(checkpoints.size() - 1));
    report.put("updated", clock.instant().toString());
    attempted = true;
    try {
      publish(JSON.writeValueAsBytes(report));
      pending = false;
      failing = false;
      wait = interval.toMillis();
    } catch (IOException | RuntimeException e) {
      // Reporting is best effort: the work goes on, a later report tries again.
      pending = true;
      wait = Math.min(2 * wait, Math.max(interval.toMillis(), MAX_WAIT.toMillis()));
      if (!failing) {
        failing = true;
        failed(e);
      }
    } finally {
      // The wait runs from the attempt's end: a slow failure is not followed by another at once.
      lastAttempt = clock.millis();
    }
  }
}
