package dev.tessera.trainer;

import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.packed.PackedLayout;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.trainer.pretrain.PretrainOptions;
import dev.tessera.trainer.pretrain.Pretrainer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tessera-trainer pretrain}: the PretrainRun worker on one rank. */
@Command(
    name = "pretrain",
    mixinStandardHelpOptions = true,
    description = {
      "Pre-trains the tiny Open-Qwen2VL preset on packed data (tessera-curator pack): frozen"
          + " vision tower, projector and decoder trained with AdamW on a cosine schedule.",
      "Started on an existing RUN it continues from the latest valid checkpoint and ends with the"
          + " same parameters and metrics as an uninterrupted run."
    })
final class PretrainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--data", required = true, paramLabel = "PACKED", description = "Packed set.")
  Path data;

  @Option(names = "--out", required = true, paramLabel = "RUN", description = "Run directory.")
  Path out;

  @Option(
      names = "--model-config",
      paramLabel = "tiny",
      description =
          "tiny (a preset that trains on 2 CPU cores), or a JSON file with text_config and/or"
              + " vision_config (Hugging Face Qwen2 and SigLIP configurations) for a model from"
              + " random weights (default: ${DEFAULT-VALUE}).")
  String modelConfig = "tiny";

  @Option(names = "--steps", paramLabel = "N", description = "Optimizer steps.")
  Integer steps;

  @Option(
      names = "--tokens",
      paramLabel = "N",
      description =
          "Or: packed tokens to train on (sequences × sequence length, as Open-Qwen2VL counts its"
              + " 5B); steps = ⌈N / (global batch × sequence length)⌉.")
  Long tokens;

  @Mixin TrainingOptions training = new TrainingOptions(8, 5e-5, 0.01);

  @Option(
      names = "--attention",
      paramLabel = "continuous|document",
      description =
          "document: each sample of a packed sequence attends to itself only, its positions"
              + " restarting, as if it were a sequence of its own (less work, no attention across"
              + " samples); continuous: one causal mask per sequence, as Open-Qwen2VL trained"
              + " (default: ${DEFAULT-VALUE}).")
  String attention = "document";

  @Option(
      names = "--init-llm",
      paramLabel = "HF_DIR",
      description =
          "Start the decoder from this Hugging Face Qwen2 directory (config and weights).")
  Path initLlm;

  @Option(
      names = "--init-vision",
      paramLabel = "HF_DIR",
      description = "Start the (frozen) tower from this Hugging Face SigLIP directory.")
  Path initVision;

  /** Steps that cover {@code tokens} packed tokens of the data's sequence length. */
  private int stepsFor(long tokens) throws IOException {
    if (tokens < 1) {
      throw new IllegalArgumentException("--tokens must be >= 1, got " + tokens);
    }
    int sequenceLength = PackedLayout.fromMap(ShardManifest.read(data).layout()).sequenceLength();
    long perStep = (long) training.globalBatch * sequenceLength;
    return Math.toIntExact((tokens + perStep - 1) / perStep);
  }

  @Override
  public Integer call() throws IOException {
    Path modelConfigFile = modelConfig.equals("tiny") ? null : Path.of(modelConfig);
    if (modelConfigFile != null && !modelConfigFile.toFile().isFile()) {
      throw new IllegalArgumentException(
          "--model-config is 'tiny' or a JSON file; " + modelConfig + " is neither");
    }
    AttentionMask mask;
    try {
      mask = AttentionMask.valueOf(attention.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--attention must be continuous or document, got '" + attention + "'", e);
    }
    if ((steps == null) == (tokens == null)) {
      throw new IllegalArgumentException("give either --steps or --tokens");
    }
    int stepCount = steps != null ? steps : stepsFor(tokens);
    PretrainOptions options =
        training.toOptions(data, out, stepCount, mask, initLlm, initVision, modelConfigFile);
    Pretrainer.Summary summary =
        Pretrainer.run(options, spec.commandLine().getErr(), training.reporter("PretrainRun"));
    PrintWriter printer = spec.commandLine().getOut();
    printer.printf(
        Locale.ROOT,
        "pretrain: %d steps, loss %.4f -> %.4f; latest checkpoint %s%n",
        summary.steps(),
        summary.firstLoss(),
        summary.lastLoss(),
        summary.latestCheckpoint());
    printer.flush();
    return 0;
  }
}
