package dev.tessera.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.api.progress.ProgressFold;
import dev.tessera.api.v1alpha1.Conditions;
import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.OutputRecord;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.TesseraStatus;
import dev.tessera.curator.CuratorMain;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.webdataset.ShardList;
import dev.tessera.trainer.TrainerMain;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntSupplier;
import picocli.CommandLine;

/**
 * Runs a pipeline's stages on a local directory standing in for the storage volume, through the
 * workers' own code in this process, keeping each resource's status in {@link LocalState} as the
 * operator keeps it on the cluster. A stage that succeeded with the same spec is not run again
 * unless its output is gone from the volume; a stage that was interrupted runs again and its worker
 * continues where it stopped.
 */
public final class LocalRunner {
  /** Annotation asking the local runner to generate a CurationJob's missing input. */
  public static final String SYNTHETIC_DATA = "tessera.dev/synthetic-data";

  private final Path volume;
  private final PrintStream out;
  private final LocalState state;

  public LocalRunner(Path volume, PrintStream out, boolean fresh) throws IOException {
    this.volume = volume.toAbsolutePath().normalize();
    this.out = out;
    Files.createDirectories(this.volume);
    if (fresh) {
      Files.deleteIfExists(LocalState.fileOf(this.volume));
    }
    this.state = LocalState.open(this.volume);
  }

  public LocalState state() {
    return state;
  }

  /** The Running condition's reason after Ctrl-C. */
  static final String INTERRUPTED = "Interrupted";

  private static boolean interrupted(TesseraStatus status) {
    var running = status.condition(Conditions.RUNNING);
    return running != null && INTERRUPTED.equals(running.getReason());
  }

  /**
   * Makes {@code stages} run from scratch ({@code --rerun}): removes each one's output directory,
   * then forgets what ran of it. Removed in that order, an interruption leaves a stage whose output
   * is gone, which the next run runs again anyway.
   */
  public void rerun(List<Stage> stages) throws IOException {
    for (Stage stage : stages) {
      Path output = outputOf(volume, stage);
      boolean existed = Files.exists(output);
      AtomicFiles.deleteRecursively(output);
      state.remove(stage.id());
      out.printf(
          "↺ %-12s %-20s runs again from scratch%s%n",
          stage.kind(), stage.name(), existed ? ": removed " + stage.outputDir() : "");
    }
  }

  /**
   * The stage's output directory, which {@code --rerun} removes: strictly inside the volume (the
   * specs' rules allow no absolute path and no {@code ..}, but {@code .} is the volume itself).
   */
  static Path outputOf(Path volume, Stage stage) {
    Path root = volume.toAbsolutePath().normalize();
    Path output = root.resolve(stage.outputDir()).normalize();
    if (!output.startsWith(root) || output.equals(root)) {
      throw new PipelineError(
          stage.where()
              + ": output "
              + stage.outputDir()
              + " is not a directory inside the volume: --rerun does not remove it");
    }
    return output;
  }

  /**
   * Says, before anything runs, which stages still to run ask for GPUs this machine does not have:
   * they would fail when they start, maybe hours later.
   */
  public void warnAboutGpus(Pipeline pipeline, IntSupplier gpus) {
    for (Stage stage : pipeline.stages()) {
      LocalState.Entry entry = state.get(stage.id());
      if (entry != null && entry.status().phase == Phase.Succeeded) {
        continue;
      }
      String shortfall = stage.gpuShortfall(gpus);
      if (shortfall != null) {
        out.printf(
            "! %-12s %-20s will fail when it starts: %s%n", stage.kind(), stage.name(), shortfall);
      }
    }
  }

  /** The stage's spec as the state file holds it, to tell whether it changed since it ran. */
  static JsonNode specTree(Stage stage) throws IOException {
    // Through text, as the state file holds it: a tree made from objects keeps Long where one
    // read back has Integer, and the two would never be equal.
    return LocalState.JSON.readTree(LocalState.JSON.writeValueAsBytes(stage.resource().getSpec()));
  }

  /** Runs every stage in order; returns 0, or the exit code of the stage that failed. */
  public int run(Pipeline pipeline) throws IOException {
    out.printf("volume %s: %d stages%n", volume, pipeline.stages().size());
    for (Stage stage : pipeline.stages()) {
      JsonNode spec = specTree(stage);
      LocalState.Entry entry = state.get(stage.id());
      TesseraStatus previous = entry == null ? null : entry.status();
      if (previous != null && previous.phase == Phase.Succeeded) {
        if (!entry.spec().equals(spec)) {
          throw new PipelineError(
              stage.where()
                  + ": spec: changed since the stage succeeded on "
                  + volume
                  + "; a finished stage does not run again (--rerun "
                  + stage.name()
                  + " runs it and what reads its output from scratch)");
        }
        String output = previous.output == null ? null : previous.output.path;
        if (output == null || Files.exists(volume.resolve(output))) {
          out.printf(
              "✓ %-12s %-20s already succeeded: %s%n",
              stage.kind(), stage.name(), output == null ? "" : output);
          continue;
        }
        // Nothing of the stage is left to lose, and the stages are deterministic: running it
        // again gives the later stages the same input they consumed.
        out.printf(
            "↻ %-12s %-20s succeeded before, but its output %s is gone: running again%n",
            stage.kind(), stage.name(), output);
        previous = null;
      }
      int code = runStage(stage, spec, previous);
      if (code != 0) {
        return code;
      }
    }
    out.printf("done: report with `tessera report %s`%n", volume);
    return 0;
  }

  private int runStage(Stage stage, JsonNode spec, TesseraStatus previous) throws IOException {
    TesseraStatus status = previous == null ? new TesseraStatus() : previous;
    Instant started = Instant.now();
    List<String> inputs = new ArrayList<>();
    for (int i = 0; i < stage.inputs().size(); i++) {
      inputs.add(resolveInput(stage, i));
    }
    if (previous != null && (previous.phase == Phase.Running || interrupted(previous))) {
      out.printf("↻ %-12s %-20s was interrupted: continuing%n", stage.kind(), stage.name());
    }
    status.phase = Phase.Running;
    status.startTime = status.startTime == null ? started.toString() : status.startTime;
    status.completionTime = null;
    status.observedGeneration = 1L;
    set(status, Conditions.INPUT_READY, true, "InputReady", String.join(", ", inputs));
    set(status, Conditions.RUNNING, true, "Running", "running in process on " + volume);
    state.put(stage.id(), spec, status);

    Path progress = progressFile(volume, stage);
    Path log =
        volume
            .resolve(".tessera")
            .resolve("logs")
            .resolve(stage.kind() + "-" + stage.name() + ".log");
    Files.createDirectories(progress.getParent());
    Files.createDirectories(log.getParent());
    Files.deleteIfExists(progress);
    WorkerArgs.writeConfig(stage, volume);
    List<String> args = WorkerArgs.of(stage, volume, inputs, progress);
    int code;
    // The worker's own output goes to the stage's log (appended: an interrupted run's stays);
    // the console gets the progress line.
    try (PrintWriter logWriter =
        new PrintWriter(
            Files.newBufferedWriter(
                log,
                StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.APPEND),
            true)) {
      logWriter.println("tessera " + String.join(" ", args));
      CommandLine worker =
          stage.kind().endsWith("Run") ? TrainerMain.commandLine() : CuratorMain.commandLine();
      worker.setOut(logWriter);
      worker.setErr(logWriter);
      ProgressBar bar = new ProgressBar(out, stage, progress, status);
      // Ctrl-C: say so in the state before the JVM goes (a SIGKILL leaves it Running, which the
      // next run treats the same way).
      AtomicBoolean interrupted = new AtomicBoolean();
      Thread onInterrupt =
          new Thread(
              () -> {
                interrupted.set(true);
                status.phase = Phase.Pending;
                set(
                    status,
                    Conditions.RUNNING,
                    false,
                    INTERRUPTED,
                    "interrupted at " + Instant.now() + "; run again to continue");
                try {
                  state.put(stage.id(), spec, status);
                } catch (IOException e) {
                  // The state stays Running, which the next run also continues from.
                }
              },
              "tessera-interrupted");
      Runtime.getRuntime().addShutdownHook(onInterrupt);
      try {
        code = worker.execute(args.toArray(String[]::new));
      } finally {
        bar.close();
        try {
          Runtime.getRuntime().removeShutdownHook(onInterrupt);
        } catch (IllegalStateException shuttingDown) {
          // Interrupted: the hook has run or is running.
        }
      }
      if (interrupted.get()) {
        // The worker stopped because of the interrupt (a trainer with a checkpoint at its step):
        // the state says Interrupted, not Failed, and the JVM is on its way out.
        return 130;
      }
    }
    fold(stage, status, progress);
    if (code == 0 && stage.resource() instanceof CurationJob c) {
      curationTotals(status, volume.resolve(c.getSpec().output.path).resolve("stats.json"));
    }
    Duration took = Duration.between(started, Instant.now());
    if (code == 0) {
      status.phase = Phase.Succeeded;
      status.completionTime = Instant.now().toString();
      status.output = new OutputRecord();
      status.output.path = stage.outputForNext();
      set(status, Conditions.RUNNING, false, "Completed", "");
      set(
          status,
          Conditions.COMPLETE,
          true,
          "Succeeded",
          stage.kind() + " finished: " + status.output.path);
      state.put(stage.id(), spec, status);
      out.printf(
          "✓ %-12s %-20s succeeded in %s: %s%n",
          stage.kind(), stage.name(), human(took), summary(status));
      return 0;
    }
    String why = lastError(log);
    status.phase = Phase.Failed;
    status.completionTime = Instant.now().toString();
    set(status, Conditions.RUNNING, false, "ExitCode", why);
    set(status, Conditions.FAILED, true, "ExitCode", "exited with code " + code + ": " + why);
    state.put(stage.id(), spec, status);
    out.printf(
        "✗ %-12s %-20s failed (exit code %d): %s%n  log: %s%n",
        stage.kind(), stage.name(), code, why, log);
    return code;
  }

  /**
   * Input {@code index} of the stage, relative to the volume: the named stage's output, or the
   * spec's path.
   */
  private String resolveInput(Stage stage, int index) throws IOException {
    InputRef ref = stage.inputs().get(index);
    if (ref.kind() != null) {
      LocalState.Entry upstream = state.get(ref.kind() + "/" + ref.name());
      if (upstream == null
          || upstream.status().phase != Phase.Succeeded
          || upstream.status().output == null) {
        throw new PipelineError(
            stage.where()
                + ": "
                + stage.inputField(index)
                + ": "
                + ref.kind()
                + " "
                + ref.name()
                + " has not succeeded");
      }
      return upstream.status().output.path;
    }
    String path = ref.path;
    String missing = missingInput(volume, stage, path);
    if (missing != null) {
      String recipe = synthetic(stage);
      if (recipe == null) {
        throw new PipelineError(
            stage.where()
                + ": "
                + stage.inputField(index)
                + ": "
                + path
                + " is not on the volume "
                + volume
                + " ("
                + missing
                + ")");
      }
      generate(stage, path, recipe);
    }
    return path;
  }

  /**
   * Why a path input of the stage is not on the volume (shards for a CurationJob or PackJob, which
   * a brace pattern may name; else a file or directory), or null when it is.
   */
  static String missingInput(Path volume, Stage stage, String path) throws IOException {
    try {
      if (stage.resource() instanceof CurationJob || stage.kind().equals("PackJob")) {
        ShardList.resolve(volume, path);
      } else if (!Files.exists(volume.resolve(path))) {
        return volume.resolve(path) + " does not exist";
      }
      return null;
    } catch (NoSuchFileException | IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  /** Where the stage's worker keeps its progress report. */
  static Path progressFile(Path volume, Stage stage) {
    return volume
        .resolve(".tessera")
        .resolve("progress")
        .resolve(stage.kind() + "-" + stage.name() + ".json");
  }

  /** The synthetic-data recipe of a CurationJob's annotation, or null. */
  static String synthetic(Stage stage) {
    Map<String, String> annotations = stage.resource().getMetadata().getAnnotations();
    return stage.resource() instanceof CurationJob && annotations != null
        ? annotations.get(SYNTHETIC_DATA)
        : null;
  }

  /**
   * Generates the synthetic shards a CurationJob's annotation asks for ({@code "shards=4
   * samplesPerShard=500 seed=2026 defects=0.1"}) into the input pattern's directory.
   */
  private void generate(Stage stage, String pattern, String recipe) throws IOException {
    int brace = pattern.indexOf('{');
    String dir =
        brace < 0 ? pattern : pattern.substring(0, Math.max(0, pattern.lastIndexOf('/', brace)));
    List<String> args = new ArrayList<>(List.of("synth", "--out", WorkerArgs.abs(volume, dir)));
    for (String part : recipe.trim().split("\\s+")) {
      String[] kv = part.split("=", 2);
      if (kv.length != 2
          || !List.of("shards", "samplesPerShard", "seed", "defects").contains(kv[0])) {
        throw new PipelineError(
            stage.where()
                + ": metadata.annotations."
                + SYNTHETIC_DATA
                + ": '"
                + part
                + "' is not shards=N, samplesPerShard=N, seed=N or defects=R");
      }
      args.add("--" + kv[0].replaceAll("([A-Z])", "-$1").toLowerCase());
      args.add(kv[1]);
    }
    out.printf(
        "• %-12s %-20s generating synthetic input in %s (%s)%n",
        stage.kind(), stage.name(), dir, recipe);
    Path log = volume.resolve(".tessera").resolve("logs").resolve("synth-" + stage.name() + ".log");
    Files.createDirectories(log.getParent());
    int code;
    try (PrintWriter logWriter =
        new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true)) {
      CommandLine synth = CuratorMain.commandLine();
      synth.setOut(logWriter);
      synth.setErr(logWriter);
      code = synth.execute(args.toArray(String[]::new));
    }
    if (code != 0) {
      throw new PipelineError(
          stage.where()
              + ": metadata.annotations."
              + SYNTHETIC_DATA
              + ": generating failed: "
              + lastError(log));
    }
  }

  /** Folds the worker's last report into the status, as the operator does from its ConfigMap. */
  static void fold(Stage stage, TesseraStatus status, Path progress) {
    String text;
    try {
      text = Files.exists(progress) ? Files.readString(progress) : null;
    } catch (IOException e) {
      return;
    }
    Map<String, JsonNode> reports =
        ProgressFold.reports(text == null ? null : Map.of("progress.json", text));
    if (reports.isEmpty()) {
      return;
    }
    switch (stage.kind()) {
      case "CurationJob" -> {
        JsonNode f = reports.get("progress.json").path("progress");
        String phase = f.hasNonNull("phase") ? f.get("phase").asText() : "select";
        int done = Math.max(0, List.of("score", "select", "reshard").indexOf(phase));
        ProgressFold.curation(status, reports, phase, done, 3);
      }
      case "PackJob" -> ProgressFold.packing(status, reports);
      default -> ProgressFold.training(status, reports);
    }
  }

  /**
   * The pool's totals from the select phase's stats.json: the worker's last report is the reshard
   * phase's, which counts only what it wrote.
   */
  private static void curationTotals(TesseraStatus status, Path stats) throws IOException {
    if (!Files.exists(stats)) {
      return;
    }
    JsonNode s = LocalState.JSON.readTree(stats.toFile());
    if (status.progress == null) {
      status.progress = new dev.tessera.api.v1alpha1.Progress();
    }
    status.progress.samples = s.path("samples").asLong();
    status.progress.kept = s.path("kept").asLong();
    status.progress.rejections = new java.util.TreeMap<>();
    s.path("rejections")
        .properties()
        .forEach(r -> status.progress.rejections.put(r.getKey(), r.getValue().asLong()));
    status.progress.percent = 100.0;
  }

  private static String summary(TesseraStatus status) {
    var p = status.progress;
    if (p == null) {
      return status.output == null ? "" : status.output.path;
    }
    if (p.kept != null) {
      return p.kept + " of " + p.samples + " samples kept → " + status.output.path;
    }
    if (p.fillRatio != null) {
      return p.sequences
          + " sequences, fill "
          + String.format("%.3f", p.fillRatio)
          + " (lower bound "
          + p.lowerBoundSequences
          + ") → "
          + status.output.path;
    }
    if (p.step != null) {
      return "step "
          + p.step
          + ", loss "
          + (p.loss == null ? "?" : String.format("%.3f", p.loss))
          + " → "
          + status.output.path;
    }
    return status.output.path;
  }

  static String lastError(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      for (int i = lines.size() - 1; i >= 0; i--) {
        if (lines.get(i).startsWith("error:")) {
          return lines.get(i).substring("error:".length()).strip();
        }
      }
      for (int i = lines.size() - 1; i >= 0; i--) {
        if (!lines.get(i).isBlank()) {
          return lines.get(i).strip();
        }
      }
    } catch (IOException e) {
      return "(no log)";
    }
    return "(no output)";
  }

  static void set(TesseraStatus status, String type, boolean value, String reason, String message) {
    status.setCondition(type, value, reason, message, 1, Instant.now());
  }

  static String human(Duration d) {
    long s = d.toSeconds();
    return s < 60
        ? s + "s"
        : s < 3600
            ? (s / 60) + "m" + String.format("%02d", s % 60) + "s"
            : (s / 3600) + "h" + String.format("%02d", (s % 3600) / 60) + "m";
  }
}
