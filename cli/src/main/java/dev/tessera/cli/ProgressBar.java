package dev.tessera.cli;

import dev.tessera.api.v1alpha1.Progress;
import dev.tessera.api.v1alpha1.TesseraStatus;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * A stage's progress line, redrawn from the worker's report file twice a second: on a terminal in
 * place, otherwise one line per tenth of the work so logs stay short.
 */
final class ProgressBar implements AutoCloseable {
  private static final int WIDTH = 24;

  private final PrintStream out;
  private final Stage stage;
  private final Path report;
  private final TesseraStatus scratch;
  private final boolean terminal = System.console() != null;
  private final Thread thread;
  private volatile boolean running = true;
  private int lastTenth = -1;
  private String lastLine = "";

  ProgressBar(PrintStream out, Stage stage, Path report, TesseraStatus status) {
    this.out = out;
    this.stage = stage;
    this.report = report;
    this.scratch = LocalState.JSON.convertValue(status, TesseraStatus.class);
    this.thread = new Thread(this::loop, "progress-" + stage.name());
    thread.setDaemon(true);
    thread.start();
  }

  private void loop() {
    while (running) {
      draw();
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private void draw() {
    LocalRunner.fold(stage, scratch, report);
    Progress p = scratch.progress;
    if (p == null || p.percent == null) {
      return;
    }
    double percent = Math.min(100, Math.max(0, p.percent));
    int filled = (int) Math.round(percent / 100 * WIDTH);
    String line =
        String.format(
            "  %-12s %-20s %s %5.1f%% %s",
            stage.kind(),
            stage.name(),
            "█".repeat(filled) + "░".repeat(WIDTH - filled),
            percent,
            detail(p));
    if (terminal) {
      if (!line.equals(lastLine)) {
        out.print("\r" + line + " ".repeat(Math.max(0, lastLine.length() - line.length())));
        out.flush();
      }
    } else if ((int) (percent / 10) > lastTenth) {
      lastTenth = (int) (percent / 10);
      out.println(line);
    }
    lastLine = line;
  }

  static String detail(Progress p) {
    StringBuilder d = new StringBuilder();
    if (p.stage != null) {
      d.append(p.stage).append(' ');
    }
    if (p.step != null && p.steps != null) {
      d.append("step ").append(p.step).append('/').append(p.steps).append(' ');
    }
    if (p.loss != null) {
      d.append(String.format("loss %.3f ", p.loss));
    }
    if (p.evalLoss != null) {
      d.append(String.format(java.util.Locale.ROOT, "held-out %.3f ", p.evalLoss));
    }
    // Only when there is something to say: most runs pass nothing over and skip no step.
    if (p.damagedSequences != null && p.damagedSequences > 0) {
      d.append(p.damagedSequences).append(" damaged passed over ");
    }
    if (p.skippedSteps != null && p.skippedSteps > 0) {
      d.append(p.skippedSteps).append(" steps skipped ");
    }
    if (p.kept != null && p.samples != null) {
      d.append("kept ").append(p.kept).append('/').append(p.samples).append(' ');
    } else if (p.samples != null) {
      d.append(p.samples).append(" samples ");
    }
    if (p.eta != null) {
      d.append("eta ").append(p.eta);
    }
    return d.toString().strip();
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    try {
      thread.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (terminal && !lastLine.isEmpty()) {
      out.println();
    }
  }
}
