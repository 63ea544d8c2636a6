package dev.tessera.cli;

import dev.tessera.api.v1alpha1.Phase;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;

/**
 * {@code tessera logs NAME}: a stage's worker output, as {@code kubectl logs} shows a pod's. The
 * local runner appends each stage's output to {@code VOLUME/.tessera/logs/<Kind>-<name>.log} (an
 * interrupted and resumed stage's runs follow one another in it).
 */
final class StageLogs {
  /** How often {@code --follow} looks for new output and for the stage's end. */
  static final long POLL_MILLIS = 250;

  private StageLogs() {}

  /** The one stage named {@code name} on {@code volumes}: its volume and {@code Kind/name}. */
  record Found(Path volume, String id) {
    Path log() {
      return volume.resolve(".tessera").resolve("logs").resolve(id.replace('/', '-') + ".log");
    }
  }

  static Found find(List<Path> volumes, String name) throws IOException {
    List<Found> matches = new ArrayList<>();
    for (Path volume : volumes) {
      for (String id : LocalState.open(volume).entries().keySet()) {
        if (id.substring(id.indexOf('/') + 1).equals(name)) {
          matches.add(new Found(volume, id));
        }
      }
    }
    if (matches.isEmpty()) {
      throw new PipelineError(
          "no resource named '" + name + "' ran on " + (volumes.isEmpty() ? "work/*" : volumes));
    }
    if (matches.size() > 1) {
      throw new PipelineError(
          "'"
              + name
              + "' ran on several volumes or as several kinds ("
              + matches.stream().map(f -> f.volume() + " " + f.id()).toList()
              + "); pick one with --volume");
    }
    return matches.get(0);
  }

  /**
   * Prints the stage's log (its last {@code tail} lines when {@code tail >= 0}); with {@code
   * follow}, goes on printing what the worker appends until the stage is no longer running.
   */
  static int print(PrintStream out, Found stage, int tail, boolean follow)
      throws IOException, InterruptedException {
    Path log = stage.log();
    long offset = 0;
    if (Files.exists(log)) {
      offset = Files.size(log);
      if (tail < 0) {
        copy(log, 0, offset, out);
      } else {
        printTail(log, tail, out);
      }
    } else if (!follow) {
      out.println("(no output yet: " + log + ")");
    }
    while (follow) {
      long size = Files.exists(log) ? Files.size(log) : 0;
      if (size > offset) {
        copy(log, offset, size, out);
        offset = size;
        continue;
      }
      if (!running(stage)) {
        break;
      }
      Thread.sleep(POLL_MILLIS);
    }
    out.flush();
    return 0;
  }

  private static boolean running(Found stage) throws IOException {
    Map<String, LocalState.Entry> entries = LocalState.open(stage.volume()).entries();
    LocalState.Entry entry = entries.get(stage.id());
    return entry != null && entry.status().phase == Phase.Running;
  }

  private static void copy(Path log, long from, long to, PrintStream out) throws IOException {
    try (InputStream in = Files.newInputStream(log)) {
      in.skipNBytes(from);
      long left = to - from;
      byte[] buffer = new byte[8192];
      while (left > 0) {
        int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
        if (n < 0) {
          break;
        }
        out.write(buffer, 0, n);
        left -= n;
      }
    }
    out.flush();
  }

  private static void printTail(Path log, int lines, PrintStream out) throws IOException {
    Deque<String> last = new ArrayDeque<>();
    try (var reader = Files.newBufferedReader(log, StandardCharsets.UTF_8)) {
      String line;
      while ((line = reader.readLine()) != null) {
        last.addLast(line);
        if (last.size() > lines) {
          last.removeFirst();
        }
      }
    }
    last.forEach(out::println);
  }
}
