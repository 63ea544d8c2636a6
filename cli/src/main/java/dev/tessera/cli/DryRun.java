package dev.tessera.cli;

import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.CurationJobSpec;
import dev.tessera.api.v1alpha1.FinetuneRun;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.ModelSpec;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.TesseraStatus;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntSupplier;

/**
 * {@code tessera run --dry-run}: what a run would do, stage by stage: which stages already
 * succeeded, where each input of the others comes from, and the worker command each would run. It
 * runs nothing and writes nothing, and names every stage that could not start, as a run would.
 */
final class DryRun {
  private final Path volume;
  private final LocalState state;
  private final Set<String> copied;
  private final Set<String> rerun;
  private final IntSupplier gpus;
  private final PrintStream out;

  /** Where each stage's output will be once the stages before it have run, by stage id. */
  private final Map<String, String> outputs = new HashMap<>();

  /** Stages that would run, in order, for paths one of them writes. */
  private final List<Stage> running = new ArrayList<>();

  /**
   * @param volume the volume the run would use (it need not exist)
   * @param state what ran on it before (empty with {@code --fresh})
   * @param copied volume paths {@code --copy} would put there
   * @param rerun ids of the stages {@code --rerun} would run from scratch
   * @param gpus the GPUs CUDA sees on this machine
   */
  DryRun(
      Path volume,
      LocalState state,
      Set<String> copied,
      Set<String> rerun,
      IntSupplier gpus,
      PrintStream out) {
    this.volume = volume.toAbsolutePath().normalize();
    this.state = state;
    this.copied = copied;
    this.rerun = rerun;
    this.gpus = gpus;
    this.out = out;
  }

  /**
   * Prints the plan; returns 0, or {@link TesseraMain#PIPELINE_ERROR} if a stage could not start.
   */
  int print(Pipeline pipeline) throws IOException {
    out.printf(
        "volume %s: %d stages (dry run: nothing runs, nothing is written)%n",
        volume, pipeline.stages().size());
    int problems = 0;
    for (Stage stage : pipeline.stages()) {
      problems += plan(stage) ? 0 : 1;
    }
    if (problems > 0) {
      out.printf("%d of %d stages could not start%n", problems, pipeline.stages().size());
      return TesseraMain.PIPELINE_ERROR;
    }
    return 0;
  }

  /** Prints one stage; false when it could not start. */
  private boolean plan(Stage stage) throws IOException {
    LocalState.Entry entry = state.get(stage.id());
    TesseraStatus previous = entry == null ? null : entry.status();
    String verb = "would run";
    if (rerun.contains(stage.id())) {
      previous = null;
      verb =
          Files.exists(LocalRunner.outputOf(volume, stage))
              ? "would run again from scratch, removing " + stage.outputDir() + " first"
              : "would run";
    }
    if (previous != null && previous.phase == Phase.Succeeded) {
      if (!entry.spec().equals(LocalRunner.specTree(stage))) {
        out.printf(
            "✗ %-12s %-20s spec changed since the stage succeeded: a finished stage does not run"
                + " again (--rerun %s runs it and what reads its output from scratch)%n",
            stage.kind(), stage.name(), stage.name());
        return false;
      }
      String output = previous.output == null ? null : previous.output.path;
      if (output == null || Files.exists(volume.resolve(output))) {
        out.printf(
            "✓ %-12s %-20s already succeeded: %s%n",
            stage.kind(), stage.name(), output == null ? "" : output);
        outputs.put(stage.id(), output);
        return true;
      }
      verb = "would run again (its output " + output + " is gone)";
    } else if (previous != null && previous.phase != null && previous.phase != Phase.Failed) {
      verb = "would continue where it stopped";
    }

    List<String> inputs = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    for (int i = 0; i < stage.inputs().size(); i++) {
      InputRef ref = stage.inputs().get(i);
      if (ref.kind() != null) {
        String path = outputs.get(ref.kind() + "/" + ref.name());
        if (path == null) {
          missing.add(
              stage.inputField(i) + ": " + ref.kind() + " " + ref.name() + " could not start");
          continue;
        }
        inputs.add(path);
        notes.add("input  " + path + " (" + ref.kind() + " " + ref.name() + ")");
        continue;
      }
      inputs.add(ref.path);
      String source = sourceOf(stage, ref.path, true);
      if (source == null) {
        missing.add(stage.inputField(i) + ": " + ref.path + " is not on the volume");
      } else {
        notes.add("input  " + ref.path + (source.isEmpty() ? "" : " (" + source + ")"));
      }
    }
    for (Map.Entry<String, String> file : namedFiles(stage).entrySet()) {
      String source = sourceOf(stage, file.getValue(), false);
      if (source == null) {
        missing.add(file.getKey() + ": " + file.getValue() + " is not on the volume");
      } else if (!source.isEmpty()) {
        notes.add("file   " + file.getValue() + " (" + source + ")");
      }
    }
    String gpuShortfall = stage.gpuShortfall(gpus);
    if (gpuShortfall != null) {
      missing.add(gpuShortfall);
    }
    if (!missing.isEmpty()) {
      out.printf("✗ %-12s %-20s could not start:%n", stage.kind(), stage.name());
      for (String problem : missing) {
        out.printf("    %s%n", problem);
      }
      return false;
    }
    out.printf("• %-12s %-20s %s%n", stage.kind(), stage.name(), verb);
    for (String note : notes) {
      out.printf("    %s%n", note);
    }
    List<String> args =
        WorkerArgs.of(stage, volume, inputs, LocalRunner.progressFile(volume, stage));
    String worker = stage.kind().endsWith("Run") ? "tessera-trainer" : "tessera-curator";
    out.printf("    %s %s%n", worker, String.join(" ", args));
    outputs.put(stage.id(), stage.outputForNext());
    running.add(stage);
    return true;
  }

  /**
   * Where a path input will come from: "" when it is on the volume, a note when something puts it
   * there first, or null when nothing does.
   */
  private String sourceOf(Stage stage, String path, boolean input) throws IOException {
    boolean present =
        input
            ? LocalRunner.missingInput(volume, stage, path) == null
            : Files.exists(volume.resolve(path));
    if (present) {
      return "";
    }
    String recipe = input ? LocalRunner.synthetic(stage) : null;
    if (recipe != null) {
      return "synthetic, generated first: " + recipe;
    }
    for (Stage earlier : running) {
      if (Pipeline.inside(path, earlier.outputDir())) {
        return "written by " + earlier.kind() + " " + earlier.name();
      }
    }
    if (copied.contains(path)) {
      return "copied there by --copy";
    }
    return null;
  }

  /**
   * The files and directories a stage's spec names besides its inputs, which its worker reads: by
   * field, relative to the volume.
   */
  static Map<String, String> namedFiles(Stage stage) {
    Map<String, String> files = new LinkedHashMap<>();
    if (stage.resource() instanceof CurationJob c && c.getSpec().filters != null) {
      CurationJobSpec.Filters filters = c.getSpec().filters;
      if (filters.clipScore != null) {
        put(files, "spec.filters.clipScore.model", filters.clipScore.model);
        put(files, "spec.filters.clipScore.tokenizer", filters.clipScore.tokenizer);
      }
      if (filters.mlmFilter != null) {
        put(files, "spec.filters.mlmFilter.model", filters.mlmFilter.model);
        put(files, "spec.filters.mlmFilter.tokenizer", filters.mlmFilter.tokenizer);
        put(files, "spec.filters.mlmFilter.templateFile", filters.mlmFilter.templateFile);
      }
      if (filters.uidLists != null) {
        for (int i = 0; i < filters.uidLists.size(); i++) {
          put(files, "spec.filters.uidLists[" + i + "].path", filters.uidLists.get(i).path);
        }
      }
    } else if (stage.resource() instanceof PackJob p) {
      put(files, "spec.tokenizer", p.getSpec().tokenizer);
    } else if (stage.resource() instanceof PretrainRun r && r.getSpec().model != null) {
      ModelSpec model = r.getSpec().model;
      if (model.config != null && !model.config.equals("tiny")) {
        put(files, "spec.model.config", model.config);
      }
      put(files, "spec.model.llm", model.llm);
      put(files, "spec.model.vision", model.vision);
    } else if (stage.resource() instanceof FinetuneRun f) {
      put(files, "spec.conversations", f.getSpec().conversations);
      put(files, "spec.tokenizer", f.getSpec().tokenizer);
      put(files, "spec.imageFolder", f.getSpec().imageFolder);
    }
    return files;
  }

  private static void put(Map<String, String> files, String field, String path) {
    if (path != null) {
      files.put(field, path);
    }
  }
}
