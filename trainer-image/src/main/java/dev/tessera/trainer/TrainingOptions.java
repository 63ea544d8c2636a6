package dev.tessera.trainer;

import dev.tessera.data.progress.FileProgressReporter;
import dev.tessera.data.progress.ProgressReporter;
import dev.tessera.engine.ComputeBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.trainer.pretrain.PretrainOptions;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options {@code pretrain} and {@code finetune} share: batch, optimizer, schedule, checkpoints,
 * ranks. Each command starts them from its own defaults (the reference's for each stage).
 */
final class TrainingOptions {
  @Option(
      names = "--global-batch",
      paramLabel = "B",
      description = "Sequences per step (default: ${DEFAULT-VALUE}).")
  int globalBatch;

  @Option(
      names = "--micro-batch",
      paramLabel = "b",
      description = "Sequences per forward/backward (default: ${DEFAULT-VALUE}).")
  int microBatch = 2;

  @Option(names = "--lr", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
  double lr;

  @Option(
      names = "--warmup",
      description = "Warmup share of the steps (default: ${DEFAULT-VALUE}).")
  double warmup = 0.03;

  @Option(names = "--weight-decay", description = "Weight decay (default: ${DEFAULT-VALUE}).")
  double weightDecay;

  @Option(names = "--clip", description = "Gradient-norm bound (default: ${DEFAULT-VALUE}).")
  double clip = 1.0;

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
      names = "--keep-best",
      description =
          "Keep the checkpoint with the lowest held-out loss too, whatever its age (needs"
              + " --eval-sequences; the loss is then measured at every checkpoint).")
  boolean keepBest;

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
          "Data-parallel ranks, each with a model replica; gradients are summed over them"
              + " (default: ${DEFAULT-VALUE}).")
  int ranks = 1;

  @Option(
      names = "--zero",
      paramLabel = "0|1|2",
      description =
          "ZeRO stage: 1 shards the optimizer state over the ranks, 2 also sums each gradient on"
              + " its owner only, 0 keeps everything on every rank (default: ${DEFAULT-VALUE}).")
  int zero = 1;

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
      description =
          "This process's index with --rendezvous: it runs ranks r × G to r × G + G - 1, G being"
              + " --local-ranks, so with one rank per process r is the rank (default: $TESSERA_RANK,"
              + " else 0).")
  int rank = envInt("TESSERA_RANK", 0);

  @Option(
      names = "--local-ranks",
      paramLabel = "G",
      description =
          "With --rendezvous: ranks run as threads of this process, one per GPU of a node; --ranks"
              + " is then all processes' ranks together, a multiple of G (default: 1, or --ranks"
              + " without --rendezvous).")
  Integer localRanks;

  @Option(
      names = "--backend",
      paramLabel = "cpu|cuda",
      converter = BackendConverter.class,
      description =
          "Where to compute: cpu, or cuda (one GPU per rank, bf16 tensor-core GEMMs; the CUDA 13"
              + " libraries must be on LD_LIBRARY_PATH) (default: cpu).")
  ComputeBackend backend = ComputeBackend.CPU;

  /** picocli's converter for {@code --backend}. */
  static final class BackendConverter
      implements picocli.CommandLine.ITypeConverter<ComputeBackend> {
    @Override
    public ComputeBackend convert(String value) {
      return ComputeBackend.parse(value);
    }
  }

  @Option(
      names = "--peak-tflops",
      paramLabel = "T",
      description =
          "Peak dense TFLOP/s of one rank's device (312 for an A100 in bf16), for the MFU in"
              + " metrics.jsonl; 0: no MFU (default: ${DEFAULT-VALUE}).")
  double peakTflops = 0;

  @Option(
      names = "--eval-sequences",
      paramLabel = "N",
      description =
          "Hold N sequences (packed sequences, or conversations when fine-tuning) out of training"
              + " and report the loss on them (eval_loss in metrics.jsonl); 0: none (default:"
              + " ${DEFAULT-VALUE}).")
  int evalSequences = 0;

  @Option(
      names = "--eval-every",
      paramLabel = "K",
      description =
          "Steps between measurements of the held-out loss; the last step always gets one"
              + " (default: the checkpoint interval).")
  int evalEvery = 0;

  @Option(
      names = "--max-damaged-sequences",
      paramLabel = "N",
      description =
          "Packed sequences (or conversations) that cannot be read or whose image cannot be"
              + " decoded which the run passes over, each named in the log, before it fails;"
              + " counted over all ranks and resumptions (default: ${DEFAULT-VALUE}).")
  int maxDamagedSequences = 10;

  @Option(
      names = "--foreground-checkpoints",
      description =
          "Write each checkpoint before the next step starts. By default a checkpoint is written"
              + " on a thread of its own while training goes on, from a copy of the weights and"
              + " optimizer state taken at its step (one checkpoint in memory at a time).")
  boolean foregroundCheckpoints;

  @Option(
      names = "--progress-file",
      paramLabel = "FILE",
      description =
          "Write progress reports (step, loss, checkpoints, outcome) as JSON to FILE (default:"
              + " the operator's ConfigMap when $TESSERA_PROGRESS_CONFIGMAP is set, else"
              + " $TESSERA_PROGRESS_FILE, else none).")
  Path progressFile;

  /** The progress reporter these options ask for: --progress-file, else the environment's. */
  ProgressReporter reporter(String kind) {
    return progressFile != null
        ? new FileProgressReporter(progressFile, kind)
        : ProgressReporter.fromEnvironment(kind);
  }

  TrainingOptions(int globalBatch, double lr, double weightDecay) {
    this.globalBatch = globalBatch;
    this.lr = lr;
    this.weightDecay = weightDecay;
  }

  /** The run's options with these settings. */
  PretrainOptions toOptions(
      Path data,
      Path out,
      int steps,
      AttentionMask attention,
      Path initLlm,
      Path initVision,
      Path modelConfig) {
    boolean multiProcess = rendezvous != null && !rendezvous.isBlank();
    return new PretrainOptions(
        data,
        out,
        steps,
        globalBatch,
        microBatch,
        lr,
        warmup,
        weightDecay,
        clip,
        attention,
        checkpointEvery,
        keepLast,
        keepBest,
        seed,
        maxBadSteps,
        ranks,
        peakTflops,
        initLlm,
        initVision,
        rank,
        zero,
        multiProcess ? rendezvous : null,
        backend,
        modelConfig,
        evalSequences,
        evalEvery,
        localRanks != null ? localRanks : multiProcess ? 1 : ranks,
        !foregroundCheckpoints,
        maxDamagedSequences);
  }

  private static int envInt(String name, int fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : Integer.parseInt(value.strip());
  }
}
