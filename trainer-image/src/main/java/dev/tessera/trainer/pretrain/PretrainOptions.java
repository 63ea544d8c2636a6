package dev.tessera.trainer.pretrain;

import dev.tessera.engine.ComputeBackend;
import dev.tessera.engine.ops.AttentionMask;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A pre-training run. Defaults follow Open-Qwen2VL's recipe (reference §4): AdamW, cosine schedule
 * with 3% warmup, clipping at 1.0, weight decay 0.01.
 *
 * @param data the packed set
 * @param out the run directory (checkpoints, metrics)
 * @param steps optimizer steps
 * @param globalBatch sequences per step, reached by accumulating micro-batches
 * @param microBatch sequences per forward and backward
 * @param lr peak learning rate
 * @param warmup share of the steps spent warming up linearly
 * @param weightDecay decoupled weight decay (not on 1-D parameters)
 * @param clip global gradient-norm bound
 * @param attention {@code continuous} (the reference's) or {@code document}
 * @param checkpointEvery steps between checkpoints (the last step always gets one)
 * @param keepLast checkpoints kept
 * @param keepBest whether the checkpoint with the lowest held-out loss is kept as well, whatever
 *     its age; the held-out loss is then measured at every checkpoint
 * @param seed initialisation and data order
 * @param maxBadSteps steps with a non-finite loss or gradient skipped before the run fails
 * @param ranks data-parallel ranks over the whole run, each with a model replica and its share of
 *     every step's sequences: threads of this process, or — with a rendezvous — spread over
 *     processes, {@code localRanks} threads in each
 * @param rank this process's index among the processes (with {@code rendezvous}): it runs ranks
 *     {@code rank × localRanks} to {@code rank × localRanks + localRanks − 1}, so with one rank per
 *     process it is the rank
 * @param zero ZeRO stage: 0 keeps the optimizer state on every rank, 1 shards it over the ranks, 2
 *     also sums each gradient on its owner only
 * @param rendezvous {@code host:port} of rank 0, where the ranks of a multi-process run meet (in an
 *     Indexed Job, pod 0's stable DNS name); {@code null} for ranks as threads
 * @param peakTflops peak dense throughput of one rank's device in TFLOP/s, for MFU; 0 for none
 * @param initLlm a Hugging Face Qwen2 directory whose configuration and weights start the decoder,
 *     or {@code null} for the tiny preset's
 * @param initVision a Hugging Face SigLIP directory for the tower, or {@code null}
 * @param backend where each rank computes (not part of the run's identity: a run may resume on
 *     another backend)
 * @param modelConfig a JSON file with {@code text_config} and/or {@code vision_config} (Hugging
 *     Face Qwen2 and SigLIP configurations, as a checkpoint's {@code config.json} has them) for a
 *     model trained from random weights, or {@code null} for the tiny preset
 * @param evalSequences sequences of the packed set held out of training to measure the loss on
 *     ({@link dev.tessera.data.packed.HeldOut}); 0 for none
 * @param evalEvery steps between measurements of the held-out loss (the last step always gets one);
 *     0 for the checkpoint interval
 * @param localRanks ranks run as threads of this process: all of them without a rendezvous; with
 *     one, a divisor of {@code ranks} (a node's GPUs, one thread each)
 * @param backgroundCheckpoints whether checkpoints are written on a thread of their own while
 *     training goes on (else training waits for each)
 * @param maxDamagedSequences packed sequences (or conversations) that cannot be read or decoded
 *     which the run passes over (each logged), counted over all ranks and attempts, before it fails
 */
public record PretrainOptions(
    Path data,
    Path out,
    int steps,
    int globalBatch,
    int microBatch,
    double lr,
    double warmup,
    double weightDecay,
    double clip,
    AttentionMask attention,
    int checkpointEvery,
    int keepLast,
    boolean keepBest,
    long seed,
    int maxBadSteps,
    int ranks,
    double peakTflops,
    Path initLlm,
    Path initVision,
    int rank,
    int zero,
    String rendezvous,
    ComputeBackend backend,
    Path modelConfig,
    int evalSequences,
    int evalEvery,
    int localRanks,
    boolean backgroundCheckpoints,
    int maxDamagedSequences) {

  public PretrainOptions {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(out, "out");
    Objects.requireNonNull(attention, "attention");
    Objects.requireNonNull(backend, "backend");
    if (steps < 1) {
      throw new IllegalArgumentException("--steps must be >= 1, got " + steps);
    }
    if (microBatch < 1 || globalBatch < microBatch || globalBatch % microBatch != 0) {
      throw new IllegalArgumentException(
          "--global-batch ("
              + globalBatch
              + ") must be a positive multiple of --micro-batch ("
              + microBatch
              + ")");
    }
    if (!(lr > 0) || !(warmup >= 0 && warmup < 1) || !(weightDecay >= 0) || !(clip > 0)) {
      throw new IllegalArgumentException(
          "need --lr > 0, 0 <= --warmup < 1, --weight-decay >= 0 and --clip > 0");
    }
    if (ranks < 1 || globalBatch % ((long) ranks * microBatch) != 0) {
      throw new IllegalArgumentException(
          "--global-batch ("
              + globalBatch
              + ") must be a multiple of --ranks × --micro-batch ("
              + ranks
              + " × "
              + microBatch
              + ")");
    }
    if (rendezvous == null && localRanks != ranks) {
      throw new IllegalArgumentException(
          "--local-ranks ("
              + localRanks
              + ") differs from --ranks ("
              + ranks
              + ") but there is no --rendezvous for the other processes to meet at");
    }
    if (localRanks < 1 || ranks % localRanks != 0) {
      throw new IllegalArgumentException(
          "--ranks (" + ranks + ") must be a multiple of --local-ranks (" + localRanks + ")");
    }
    // (A compact constructor sees its parameters, not yet the fields the accessors read.)
    int processes = ranks / localRanks;
    if (rendezvous != null && (rank < 0 || rank >= processes)) {
      throw new IllegalArgumentException(
          (localRanks == 1 ? "--rank" : "--rank (this process's index)")
              + " must be in 0.."
              + (processes - 1)
              + ", got "
              + rank);
    }
    if (zero < 0 || zero > 2) {
      throw new IllegalArgumentException("--zero must be 0, 1 or 2, got " + zero);
    }
    if (!(peakTflops >= 0)) {
      throw new IllegalArgumentException("--peak-tflops must be >= 0, got " + peakTflops);
    }
    if (maxDamagedSequences < 0) {
      throw new IllegalArgumentException(
          "--max-damaged-sequences must be >= 0, got " + maxDamagedSequences);
    }
    if (checkpointEvery < 1 || keepLast < 1 || maxBadSteps < 0) {
      throw new IllegalArgumentException(
          "need --checkpoint-every >= 1, --keep-last >= 1 and --max-bad-steps >= 0");
    }
    if (keepBest && evalSequences < 1) {
      throw new IllegalArgumentException(
          "--keep-best keeps the checkpoint with the lowest held-out loss: it needs held-out"
              + " sequences (--eval-sequences N)");
    }
    if (evalSequences < 0 || evalEvery < 0) {
      throw new IllegalArgumentException(
          "need --eval-sequences >= 0 and --eval-every >= 0, got "
              + evalSequences
              + " and "
              + evalEvery);
    }
  }

  /** Whether the step that ends with {@code stepsDone} steps done measures the held-out loss. */
  public boolean evaluatesAfter(long stepsDone) {
    int every = evalEvery > 0 ? evalEvery : checkpointEvery;
    boolean checkpointStep = stepsDone % checkpointEvery == 0;
    return evalSequences > 0
        && (stepsDone % every == 0 || stepsDone == steps || (keepBest && checkpointStep));
  }

  /** Whether the ranks are separate processes meeting at {@link #rendezvous()}. */
  public boolean multiProcess() {
    return rendezvous != null;
  }

  /** The processes the ranks are spread over: 1 without a rendezvous. */
  public int processes() {
    return ranks / localRanks;
  }

  /** The rank of this process's first thread. */
  public int firstLocalRank() {
    return multiProcess() ? rank * localRanks : 0;
  }

  /** Warmup steps: the warmup share of all steps, rounded up. */
  public long warmupSteps() {
    return (long) Math.ceil(warmup * steps);
  }

  /** What decides the run's results, to refuse resuming a run with other settings. */
  public Map<String, Object> identity() {
    Map<String, Object> map = new LinkedHashMap<>();
    map.put(
        "modelConfig",
        modelConfig == null ? "tiny" : modelConfig.toAbsolutePath().normalize().toString());
    map.put("initLlm", initLlm == null ? null : initLlm.toAbsolutePath().normalize().toString());
    map.put(
        "initVision",
        initVision == null ? null : initVision.toAbsolutePath().normalize().toString());
    map.put("steps", steps);
    map.put("globalBatch", globalBatch);
    map.put("microBatch", microBatch);
    map.put("lr", lr);
    map.put("warmup", warmup);
    map.put("weightDecay", weightDecay);
    map.put("clip", clip);
    map.put("attention", attention.name().toLowerCase(Locale.ROOT));
    map.put("seed", seed);
    map.put("ranks", ranks);
    if (evalSequences > 0) {
      // Held-out sequences are not trained on: they change the data (and runs made before the
      // option existed keep their identity).
      map.put("evalSequences", evalSequences);
    }
    return map;
  }
}
