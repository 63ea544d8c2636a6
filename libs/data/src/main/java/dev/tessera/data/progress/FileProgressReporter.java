package dev.tessera.data.progress;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.data.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Progress as a JSON file, rewritten atomically: {@code {"version", "kind", "phase", "message",
 * "progress", "checkpoints", "latestCheckpoint", "updated"}}. The version grows with every write,
 * so a reader can tell a new report from one it has seen. Progress is written at most every {@link
 * #DEFAULT_INTERVAL}; phases and checkpoints at once. A failing disk never stops the worker: the
 * report is simply not written.
 */
public final class FileProgressReporter implements ProgressReporter {
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(2);

  /** Checkpoints listed, newest last. */
  public static final int CHECKPOINTS_KEPT = 5;

  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  private final Path file;
  private final String kind;
  private final Clock clock;
  private final Duration interval;
  private final List<Map<String, Object>> checkpoints = new ArrayList<>();
  private Map<String, Object> progress = Map.of();
  private String phase = "Running";
  private String message = "";
  private long version;
  private long lastWrite;
  private boolean written;
  private boolean pending;

  public FileProgressReporter(Path file, String kind) {
    this(file, kind, Clock.systemUTC(), DEFAULT_INTERVAL);
  }

  FileProgressReporter(Path file, String kind, Clock clock, Duration interval) {
    this.file = file;
    this.kind = kind;
    this.clock = clock;
    this.interval = interval;
  }

  @Override
  public synchronized void progress(Map<String, Object> progress) {
    this.progress = new LinkedHashMap<>(progress);
    pending = true;
    if (!written || clock.millis() - lastWrite >= interval.toMillis()) {
      write();
    }
  }

  @Override
  public synchronized void checkpoint(Map<String, Object> checkpoint) {
    checkpoints.add(new LinkedHashMap<>(checkpoint));
    while (checkpoints.size() > CHECKPOINTS_KEPT) {
      checkpoints.remove(0);
    }
    write();
  }

  @Override
  public synchronized void phase(String phase, String message) {
    this.phase = phase;
    this.message = message == null ? "" : message;
    write();
  }

  @Override
  public synchronized void close() {
    if (pending) {
      write();
    }
  }

  private void write() {
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
    try {
      AtomicFiles.write(file, JSON.writeValueAsBytes(report));
      lastWrite = clock.millis();
      written = true;
      pending = false;
    } catch (IOException e) {
      // Reporting is best effort: the work goes on, the next report tries again.
      pending = true;
    }
  }
}
