package dev.tessera.data.progress;

import dev.tessera.data.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/**
 * Progress as a JSON file (see {@link JsonProgressReporter} for the document), rewritten
 * atomically: a reader never sees half a report. A failing disk never stops the worker: the report
 * is simply not written, and a later one tries again.
 */
public final class FileProgressReporter extends JsonProgressReporter {
  private final Path file;

  public FileProgressReporter(Path file, String kind) {
    this(file, kind, Clock.systemUTC(), DEFAULT_INTERVAL);
  }

  FileProgressReporter(Path file, String kind, Clock clock, Duration interval) {
    super(kind, clock, interval);
    this.file = file;
  }

  @Override
  protected void publish(byte[] json) throws IOException {
    AtomicFiles.write(file, json);
  }
}
