package dev.tessera.cli;

import dev.tessera.api.v1alpha1.TesseraStatus;
import io.fabric8.kubernetes.api.model.Condition;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/** {@code tessera status}: the local state as {@code kubectl get} shows resources. */
final class StatusTable {
  private StatusTable() {}

  static int print(PrintStream out, List<Path> volumes, String name) throws IOException {
    if (volumes.isEmpty()) {
      out.println(
          "nothing ran yet (no work/*/.tessera/state.json); start with ./tessera run examples/quickstart/");
      return 0;
    }
    String format = "%-18s %-12s %-20s %-10s %8s  %s%n";
    out.printf(format, "VOLUME", "KIND", "NAME", "PHASE", "PROGRESS", "DETAIL");
    boolean found = false;
    for (Path volume : volumes) {
      LocalState state = LocalState.open(volume);
      for (var e : state.entries().entrySet()) {
        String[] id = e.getKey().split("/", 2);
        if (name != null && !id[1].equals(name)) {
          continue;
        }
        found = true;
        TesseraStatus s = e.getValue().status();
        String percent =
            s.progress == null || s.progress.percent == null
                ? ""
                : String.format("%.0f%%", s.progress.percent);
        String detail = s.progress == null ? "" : ProgressBar.detail(s.progress);
        if (s.startTime != null) {
          Instant end = s.completionTime == null ? Instant.now() : Instant.parse(s.completionTime);
          detail =
              (detail
                      + " took "
                      + LocalRunner.human(Duration.between(Instant.parse(s.startTime), end)))
                  .strip();
        }
        out.printf(format, volume.getFileName(), id[0], id[1], s.phase, percent, detail);
        if (name != null) {
          for (Condition c : s.conditions) {
            out.printf(
                "    %-12s %-5s %-14s %s%n",
                c.getType(), c.getStatus(), c.getReason(), c.getMessage());
          }
          if (s.latestCheckpoint != null) {
            out.printf(
                "    latest checkpoint: step %d, %s%n",
                s.latestCheckpoint.step, s.latestCheckpoint.path);
          }
          if (s.bestCheckpoint != null) {
            out.printf(
                Locale.ROOT,
                "    best checkpoint: step %d, held-out loss %.4f, %s%n",
                s.bestCheckpoint.step,
                s.bestCheckpoint.evalLoss,
                s.bestCheckpoint.path);
          }
        }
      }
    }
    if (name != null && !found) {
      throw new PipelineError("no resource named '" + name + "' ran in " + volumes);
    }
    return 0;
  }
}
