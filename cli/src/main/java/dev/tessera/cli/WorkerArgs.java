package dev.tessera.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.CurationJobSpec;
import dev.tessera.api.v1alpha1.DistributedSpec;
import dev.tessera.api.v1alpha1.FinetuneRun;
import dev.tessera.api.v1alpha1.FinetuneRunSpec;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.PackJobSpec;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.PretrainRunSpec;
import dev.tessera.api.v1alpha1.WorkerFlags;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The worker command line of a stage on a local volume: what the operator's Jobs run, with every
 * path made absolute under the volume (in-process workers share this process's working directory).
 */
final class WorkerArgs {
  private static final ObjectMapper JSON = JsonMapper.builder().build();

  private WorkerArgs() {}

  /**
   * @param inputs the resolved inputs, relative to the volume, in the order of {@link
   *     Stage#inputs()}
   * @param progress the progress report file
   */
  static List<String> of(Stage stage, Path volume, List<String> inputs, Path progress) {
    List<String> args = new ArrayList<>();
    String input = inputs.get(0);
    if (stage.resource() instanceof CurationJob c) {
      CurationJobSpec spec = c.getSpec();
      Path config = curationConfig(stage, volume);
      args.addAll(
          List.of(
              "curate",
              "--config",
              config.toString(),
              "--paths-relative-to",
              volume.toString(),
              "--input",
              abs(volume, input),
              "--out",
              abs(volume, spec.output.path),
              "--phase",
              "all"));
      if (spec.asksForGpus()) {
        args.addAll(List.of("--backend", "cuda"));
      }
    } else if (stage.resource() instanceof PackJob p) {
      PackJobSpec spec = p.getSpec();
      args.add("pack");
      args.addAll(spec.packerInputs(inputs.stream().map(each -> abs(volume, each)).toList()));
      args.addAll(
          List.of(
              "--out",
              abs(volume, spec.output),
              "--tokenizer",
              abs(volume, spec.tokenizer),
              "--resume"));
      args.addAll(spec.packerOptions());
    } else if (stage.resource() instanceof PretrainRun r) {
      PretrainRunSpec spec = r.getSpec();
      args.addAll(List.of("pretrain", "--data", abs(volume, input)));
      if (spec.model != null) {
        WorkerFlags.option(
            args,
            "--model-config",
            spec.model.config == null || spec.model.config.equals("tiny")
                ? spec.model.config
                : abs(volume, spec.model.config));
        WorkerFlags.option(
            args, "--init-llm", spec.model.llm == null ? null : abs(volume, spec.model.llm));
        WorkerFlags.option(
            args,
            "--init-vision",
            spec.model.vision == null ? null : abs(volume, spec.model.vision));
      }
      training(args, volume, spec);
    } else {
      FinetuneRunSpec spec = ((FinetuneRun) stage.resource()).getSpec();
      args.addAll(
          List.of(
              "finetune",
              "--data",
              abs(volume, spec.conversations),
              "--init",
              abs(volume, input),
              "--tokenizer",
              abs(volume, spec.tokenizer)));
      WorkerFlags.option(args, "--init-checkpoint", spec.initCheckpoint);
      WorkerFlags.option(
          args, "--image-folder", spec.imageFolder == null ? null : abs(volume, spec.imageFolder));
      WorkerFlags.option(args, "--image-tokens", spec.imageTokens);
      WorkerFlags.option(args, "--max-length", spec.maxLength);
      training(args, volume, spec);
    }
    args.addAll(List.of("--progress-file", progress.toString()));
    return args;
  }

  private static void training(List<String> args, Path volume, DistributedSpec spec) {
    args.addAll(List.of("--out", abs(volume, spec.output)));
    args.addAll(spec.trainerOptions());
    int gpus = spec.gpusPerNodeOrDefault();
    // One machine runs every rank of every node as threads of this process, so a run trains here
    // as on the cluster (the same ranks, the same sums); ranks beyond this machine's GPUs share
    // them, through host memory.
    args.addAll(
        List.of(
            "--ranks", String.valueOf(spec.worldSize()), "--backend", gpus > 0 ? "cuda" : "cpu"));
  }

  /** Where a CurationJob's {@code curation.yaml} goes, which {@link #writeConfig} writes. */
  static Path curationConfig(Stage stage, Path volume) {
    return volume.resolve(".tessera").resolve("specs").resolve(stage.name() + ".curation.yaml");
  }

  /**
   * Writes the files the worker command of {@link #of} reads besides the spec's own: a
   * CurationJob's {@code curation.yaml}.
   */
  static void writeConfig(Stage stage, Path volume) throws IOException {
    if (stage.resource() instanceof CurationJob c) {
      Path config = curationConfig(stage, volume);
      Files.createDirectories(config.getParent());
      Files.write(config, JSON.writeValueAsBytes(c.getSpec().workerSpec()));
    }
  }

  static String abs(Path volume, String path) {
    return volume.resolve(path).toAbsolutePath().normalize().toString();
  }
}
