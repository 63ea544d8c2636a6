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
      description = "Model preset (default: ${DEFAULT-VALUE}).")
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

  @Option(
      names = "--global-batch",
      paramLabel = "B",
      description = "Sequences per step (default: ${DEFAULT-VALUE}).")
  int globalBatch = 8;

  @Option(
      names = "--micro-batch",
      paramLabel = "b",
      description = "Sequences per forward/backward (default: ${DEFAULT-VALUE}).")
  int microBatch = 2;

  @Option(names = "--lr", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
  double lr = 5e-5;

  @Option(
      names = "--warmup",
      description = "Warmup share of the steps (default: ${DEFAULT-VALUE}).")
  double warmup = 0.03;

  @Option(names = "--weight-decay", description = "Weight decay (default: ${DEFAULT-VALUE}).")
  double weightDecay = 0.01;

  @Option(names = "--clip", description = "Gradient-norm bound (default: ${DEFAULT-VALUE}).")
  double clip = 1.0;

  @Option(
      names = "--attention",
      paramLabel = "continuous|document",
      description =
          "continuous: one causal mask per sequence, as Open-Qwen2VL trained; document: each"
              + " sample attends to itself only (default: ${DEFAULT-VALUE}).")
  String attention = "continuous";

  @Option(
      names = "--checkpoint-every",
      paramLabel = "K",
      description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
  int checkpointEvery = 100;

  @Option(
      names = "--keep-last",
      paramLabel = "M",
      description = "Checkpoints kept (default: ${DEFAULT-VALUE}).")
  int keepLast = 3;

  @Option(
      names = "--seed",
      description = "Initialisation and data order (default: ${DEFAULT-VALUE}).")
  long seed = 1;

  @Option(
      names = "--max-bad-steps",
      paramLabel = "N",
      description =
          "Steps with a non-finite loss or gradient skipped before the run fails (default:"
              + " ${DEFAULT-VALUE}).")
  int maxBadSteps = 10;

  @Option(
      names = "--ranks",
      paramLabel = "R",
      description =
          "Data-parallel ranks, threads of this process each with a model replica; gradients are"
              + " summed over them (default: ${DEFAULT-VALUE}).")
  int ranks = 1;

  /** Steps that cover {@code tokens} packed tokens of the data's sequence length. */
  private int stepsFor(long tokens) throws IOException {
    if (tokens < 1) {
      throw new IllegalArgumentException("--tokens must be >= 1, got " + tokens);
    }
    int sequenceLength = PackedLayout.fromMap(ShardManifest.read(data).layout()).sequenceLength();
    long perStep = (long) globalBatch * sequenceLength;
    return Math.toIntExact((tokens + perStep - 1) / perStep);
  }

  @Option(
      names = "--peak-tflops",
      paramLabel = "T",
      description =
          "Peak dense TFLOP/s of one rank's device (312 for an A100 in bf16), for the MFU in"
              + " metrics.jsonl; 0: no MFU (default: ${DEFAULT-VALUE}).")
  double peakTflops = 0;

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

  @Option(
      names = "--rendezvous",
      paramLabel = "HOST:PORT",
      description =
          "Run as one of --ranks processes meeting at rank 0's address (in an Indexed Job, pod 0's"
              + " stable DNS name); default: $TESSERA_RENDEZVOUS, else ranks are threads.")
  String rendezvous = System.getenv("TESSERA_RENDEZVOUS");

  @Option(
      names = "--rank",
      paramLabel = "r",
      description = "This process's rank with --rendezvous (default: $TESSERA_RANK, else 0).")
  int rank = envInt("TESSERA_RANK", 0);

  @Option(
      names = "--zero",
      paramLabel = "0|1",
      description =
          "ZeRO stage: 1 shards the optimizer state over the ranks, 0 keeps it on every rank"
              + " (default: ${DEFAULT-VALUE}).")
  int zero = 1;

  private static int envInt(String name, int fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : Integer.parseInt(value.strip());
  }

  @Override
  public Integer call() throws IOException {
    if (!modelConfig.equals("tiny")) {
      throw new IllegalArgumentException(
          "--model-config " + modelConfig + " is not available; this build has the tiny preset");
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
        new PretrainOptions(
            data,
            out,
            stepCount,
            globalBatch,
            microBatch,
            lr,
            warmup,
            weightDecay,
            clip,
            mask,
            checkpointEvery,
            keepLast,
            seed,
            maxBadSteps,
            ranks,
            peakTflops,
            initLlm,
            initVision,
            rank,
            zero,
            rendezvous == null || rendezvous.isBlank() ? null : rendezvous);
    Pretrainer.Summary summary = Pretrainer.run(options, spec.commandLine().getErr());
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
