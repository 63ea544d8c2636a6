package dev.tessera.trainer.pretrain;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.packed.PackedShards;
import dev.tessera.data.progress.ProgressReporter;
import dev.tessera.engine.Backend;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cuda.CudaBackend;
import dev.tessera.engine.cuda.NcclCollective;
import dev.tessera.engine.dist.Collective;
import dev.tessera.engine.dist.InProcessCollective;
import dev.tessera.engine.dist.PeerLostException;
import dev.tessera.engine.dist.TcpCollective;
import dev.tessera.engine.optim.AdamW;
import dev.tessera.engine.optim.LrSchedule;
import dev.tessera.model.Parameters;
import dev.tessera.model.io.SafetensorsFile;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.vlm.OpenQwen2VL;
import dev.tessera.model.vlm.VisionLanguageModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The pre-training loop on one rank: packed sequences in, checkpoints and metrics out.
 *
 * <p>Each step takes the next {@code globalBatch} sequences of the seeded stream, runs them as
 * micro-batches through the frozen tower, the projector and the decoder, accumulates gradients
 * scaled so that they are the gradient of the mean loss over the real tokens of the whole step,
 * clips them, and applies AdamW at the step's cosine learning rate. A step whose loss or gradient
 * is not finite is logged and not applied. Checkpoints hold everything the next step depends on —
 * weights, optimizer moments, step and data position — so a run restarted from one continues with
 * exactly the parameters and metrics an uninterrupted run has.
 */
public final class Pretrainer {
  static final String RUN_FILE = "run.json";
  static final String METRICS_FILE = "metrics.jsonl";
  static final String WEIGHTS = "model.safetensors";
  static final String OPTIMIZER = "optimizer.safetensors";
  static final String STATE = "trainer-state.json";
  static final String CONFIG = "config.json";

  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
  private static final ObjectMapper LINE = new ObjectMapper();

  /** How a run went. */
  public record Summary(long steps, double firstLoss, double lastLoss, Path latestCheckpoint) {}

  /**
   * What a checkpoint records besides weights and moments. The counts are the run's, over all ranks
   * and attempts up to the checkpoint's step (a checkpoint written before they were recorded reads
   * as 0).
   *
   * @param badSteps steps not applied for a non-finite loss or gradient
   * @param damagedSequences damaged rows (packed sequences, conversations) passed over
   * @param bestStep with {@code --keep-best}, the step of the checkpoint with the lowest held-out
   *     loss so far (kept whatever its age); 0 for none
   * @param bestEvalLoss that checkpoint's held-out loss (0 with no best step)
   */
  record TrainerState(
      long step,
      long dataPosition,
      long badSteps,
      long damagedSequences,
      long bestStep,
      double bestEvalLoss) {}

  /**
   * Whether a checkpoint with held-out loss {@code evalLoss} (NaN when not measured at its step)
   * becomes the best one, after the best so far at {@code bestStep} (0 for none).
   */
  static boolean improvedBest(long bestStep, double bestEvalLoss, double evalLoss) {
    return Double.isFinite(evalLoss) && (bestStep == 0 || evalLoss < bestEvalLoss);
  }

  private final PretrainOptions options;
  private final PrintWriter log;

  private final ProgressReporter progress;
  private final StopRequest stop;

  private Pretrainer(
      PretrainOptions options, PrintWriter log, ProgressReporter progress, StopRequest stop) {
    this.options = options;
    this.log = log;
    this.progress = progress;
    this.stop = stop;
  }

  /** Pre-trains, or continues the run in {@code options.out()} from its latest valid checkpoint. */
  public static Summary run(PretrainOptions options, PrintWriter log) throws IOException {
    return run(options, log, ProgressReporter.NONE);
  }

  /** As {@link #run(PretrainOptions, PrintWriter)}, reporting progress to {@code progress}. */
  public static Summary run(PretrainOptions options, PrintWriter log, ProgressReporter progress)
      throws IOException {
    try (PackedShards shards = PackedShards.open(options.data())) {
      return run(options, new PretrainTask(options, shards, log), log, progress);
    }
  }

  /**
   * Trains {@code task}, or continues its run from the latest valid checkpoint; rank 0 reports
   * steps, checkpoints and the outcome to {@code progress}.
   */
  public static Summary run(
      PretrainOptions options, TrainingTask task, PrintWriter log, ProgressReporter progress)
      throws IOException {
    // A SIGTERM or Ctrl-C from here on stops training with a checkpoint at the step it is in.
    return run(options, task, log, progress, StopRequest.watch(log));
  }

  /**
   * As {@link #run(PretrainOptions, TrainingTask, PrintWriter, ProgressReporter)}, told to stop by
   * {@code stop}.
   */
  static Summary run(
      PretrainOptions options,
      TrainingTask task,
      PrintWriter log,
      ProgressReporter progress,
      StopRequest stop)
      throws IOException {
    boolean reports = !options.multiProcess() || options.rank() == 0;
    ProgressReporter reporter = reports ? progress : ProgressReporter.NONE;
    try {
      Summary summary = new Pretrainer(options, log, reporter, stop).run(task);
      reporter.phase("Succeeded", "trained " + summary.steps() + " steps");
      return summary;
    } catch (TrainingStopped e) {
      reporter.phase("Stopped", e.getMessage());
      throw e;
    } catch (IOException | RuntimeException e) {
      reporter.phase("Failed", String.valueOf(e.getMessage()));
      throw e;
    } finally {
      reporter.close();
      stop.close();
    }
  }

  private Summary run(TrainingTask task) throws IOException {
    Path out = Files.createDirectories(options.out());
    // In a multi-process run only rank 0 writes; the others read what it wrote before.
    boolean writer = !options.multiProcess() || options.rank() == 0;
    if (writer) {
      checkRunIdentity(out, task);
    }
    Checkpoints checkpoints = new Checkpoints(out);
    Optional<Path> latest = checkpoints.latestValid(log);
    TrainerState state =
        latest.isPresent()
            ? JSON.readValue(latest.get().resolve(STATE).toFile(), TrainerState.class)
            : new TrainerState(0, 0, 0, 0, 0, 0);
    if (latest.isPresent()) {
      note("resuming from %s (step %d)", latest.get().getFileName(), state.step());
    }
    if (writer) {
      keepMetricsUpTo(out.resolve(METRICS_FILE), state.step());
    }
    if (state.step() >= options.steps()) {
      note("run already complete at step %d", state.step());
      return new Summary(state.step(), Double.NaN, Double.NaN, latest.orElse(null));
    }
    if (options.multiProcess()) {
      int first = options.firstLocalRank();
      InetSocketAddress address = rendezvousAddress();
      if (options.localRanks() == 1) {
        note("rank %d of %d: joining %s", first, options.ranks(), options.rendezvous());
      } else {
        note(
            "process %d of %d (ranks %d to %d of %d): joining %s",
            options.rank(),
            options.processes(),
            first,
            first + options.localRanks() - 1,
            options.ranks(),
            options.rendezvous());
      }
      // Every rank, thread or process, meets rank 0 over a connection of its own: rank 0 then
      // combines each collective in rank order, the same bits as all ranks as threads.
      return trainRanks(
          options.localRanks(),
          local -> TcpCollective.join(first + local, options.ranks(), address, RENDEZVOUS_TIMEOUT),
          task,
          checkpoints,
          latest,
          state);
    }
    List<Collective> group = InProcessCollective.group(options.ranks());
    return trainRanks(group.size(), group::get, task, checkpoints, latest, state);
  }

  /** How long the other ranks of this process get to stop once one has failed. */
  static final Duration FAILURE_GRACE = Duration.ofSeconds(60);

  /**
   * Of two rank failures, the one to report: a rank's own failure rather than another's that only
   * lost it as a peer, a rank that names a damaged row over one that passed none over, else the
   * first.
   */
  static Throwable rootCause(Throwable first, Throwable next) {
    if (first == null) {
      return next;
    }
    if (first instanceof PeerLostException && !(next instanceof PeerLostException)) {
      return next;
    }
    if (first instanceof TooManyDamagedException mine
        && !mine.namesOne()
        && next instanceof TooManyDamagedException theirs
        && theirs.namesOne()) {
      return next;
    }
    return first;
  }

  /** Opens the collective of this process's {@code local}-th rank. */
  @FunctionalInterface
  private interface RankJoin {
    Collective join(int local) throws IOException;
  }

  /** How long ranks wait for each other to start. */
  static final Duration RENDEZVOUS_TIMEOUT = Duration.ofMinutes(10);

  private InetSocketAddress rendezvousAddress() {
    String address = options.rendezvous();
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("--rendezvous must be host:port, got '" + address + "'");
    }
    try {
      return new InetSocketAddress(
          address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--rendezvous must be host:port, got '" + address + "'", e);
    }
  }

  /**
   * Runs this process's ranks, each on a thread of its own (a single one on this thread); the
   * summary of its first rank, or the failure that stopped the others.
   */
  private Summary trainRanks(
      int count,
      RankJoin join,
      TrainingTask task,
      Checkpoints checkpoints,
      Optional<Path> latest,
      TrainerState state)
      throws IOException {
    if (count == 1) {
      return joinAndTrain(0, join, task, checkpoints, latest, state);
    }
    ExecutorService threads =
        Executors.newFixedThreadPool(
            count,
            runnable -> {
              Thread thread = new Thread(runnable, "rank");
              thread.setDaemon(true);
              return thread;
            });
    try {
      List<Future<Summary>> ranks = new ArrayList<>();
      for (int local = 0; local < count; local++) {
        int index = local;
        ranks.add(
            threads.submit(() -> joinAndTrain(index, join, task, checkpoints, latest, state)));
      }
      // Every rank's outcome, so that the failure reported is the one that stopped the others:
      // after a rank fails, the rest fail in their next collective (PeerLostException).
      Summary summary = null;
      Throwable failure = null;
      long deadline = Long.MAX_VALUE;
      for (Future<Summary> rank : ranks) {
        try {
          Summary result =
              failure == null
                  ? rank.get()
                  : rank.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
          summary = summary == null ? result : summary;
        } catch (ExecutionException e) {
          failure = rootCause(failure, e.getCause());
          deadline = Math.min(deadline, System.nanoTime() + FAILURE_GRACE.toNanos());
        } catch (TimeoutException e) {
          // A rank busy outside any collective: report what is known.
        }
      }
      if (failure instanceof IOException io) {
        throw io;
      }
      if (failure instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (failure != null) {
        throw new IOException(failure);
      }
      return summary;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } finally {
      threads.shutdownNow();
    }
  }

  /**
   * Joins the group as this process's {@code local}-th rank and trains. The collective is closed at
   * the end; after a failure that releases the other ranks from the collective they wait in.
   */
  private Summary joinAndTrain(
      int local,
      RankJoin join,
      TrainingTask task,
      Checkpoints checkpoints,
      Optional<Path> latest,
      TrainerState state)
      throws IOException {
    Collective collective = join.join(local);
    try {
      return trainRank(collective, local, task, checkpoints, latest, state);
    } finally {
      collective.close();
    }
  }

  /**
   * One rank's training loop: its own model replica and its share of each step's sequences;
   * gradients, loss and token counts are summed over the ranks, so every replica applies the same
   * update. Rank 0 writes metrics and checkpoints.
   */
  private Summary trainRank(
      Collective collective,
      int local,
      TrainingTask task,
      Checkpoints checkpoints,
      Optional<Path> latest,
      TrainerState state)
      throws IOException {
    // This process's GPUs are its own: its local-th rank computes on the local-th of them.
    try (Backend backend = options.backend().open(local)) {
      if (backend instanceof CudaBackend cuda && collective.size() > 1) {
        int gpus = CudaBackend.deviceCount();
        // Every rank must take the same way, or some would wait in NCCL for ranks that never
        // come: NCCL only if it suits every process (nodes may differ in GPUs).
        boolean suits = usesNccl(collective.size(), options.localRanks(), gpus);
        if (collective.allReduceSum(suits ? 1L : 0L) == collective.size()) {
          // GPU ranks sum gradients and share weights with NCCL, device to device.
          try (NcclCollective nccl = NcclCollective.open(cuda, collective)) {
            return trainRank(nccl, task, checkpoints, latest, state, backend);
          }
        }
        if (collective.rank() == options.firstLocalRank()) {
          note(
              "%d ranks share %d GPU%s: gradients and weights go through host memory"
                  + " (NCCL needs a GPU per rank)",
              options.localRanks(), gpus, gpus == 1 ? "" : "s");
        }
      }
      return trainRank(collective, task, checkpoints, latest, state, backend);
    }
  }

  /**
   * Whether GPU ranks exchange tensors with NCCL: when each of the {@code ranksHere} ranks this
   * process runs (all of them, or a node's share) has a GPU of its own. NCCL refuses two ranks on
   * one GPU, so ranks that share one (more ranks than GPUs, the local-th on GPU local modulo the
   * count) use the host collective: slower, the same training.
   */
  static boolean usesNccl(int ranks, int ranksHere, int gpus) {
    return ranks > 1 && ranksHere <= gpus;
  }

  private Summary trainRank(
      Collective collective,
      TrainingTask task,
      Checkpoints checkpoints,
      Optional<Path> latest,
      TrainerState state,
      Backend backend)
      throws IOException {
    boolean lead = collective.rank() == 0;
    VisionLanguageModel model = task.buildModel(backend);
    OpenQwen2VL vlm = model.vlm(backend);
    List<Parameters> trained =
        List.of(model.projector().parameters(), model.decoder().parameters());
    List<AdamW.Param> params = new ArrayList<>();
    for (Parameters group : trained) {
      for (String name : group.names()) {
        params.add(new AdamW.Param(name, group.value(name), group.grad(name)));
      }
    }
    ShardedOptimizer optimizer =
        new ShardedOptimizer(params, options.zero(), collective, options.weightDecay());
    LrSchedule schedule = new LrSchedule(options.lr(), 0, options.warmupSteps(), options.steps());
    List<Tensor> grads = trained.stream().map(Parameters::flatGrads).toList();
    if (latest.isPresent()) {
      restore(latest.get(), model, optimizer, params);
    }

    int perRank = options.globalBatch() / collective.size();
    double firstLoss = Double.NaN;
    double lastLoss = Double.NaN;
    Path lastCheckpoint = latest.orElse(null);
    long badSteps = state.badSteps();
    long damaged = state.damagedSequences();
    long damagedCounted = 0;
    double lastEvalLoss = Double.NaN;
    long bestStep = state.bestStep();
    double bestEvalLoss = state.bestEvalLoss();
    try (TrainingTask.RankData data =
            task.open(model, collective.rank(), collective.size(), state.dataPosition());
        BackgroundWrites<Written> writes =
            new BackgroundWrites<>(lead && options.backgroundCheckpoints())) {
      long runStarted = System.nanoTime();
      for (long step = state.step(); step < options.steps(); step++) {
        long started = System.nanoTime();
        List<TrainingTask.MicroBatch> micro = data.nextStep(perRank, options.microBatch());
        // Summed over the ranks before the step runs, so that all stop at the same step, and a
        // step that passes the limit is not trained.
        long damagedHere = data.passedOver().count();
        long damagedInStep = collective.allReduceSum(damagedHere - damagedCounted);
        damagedCounted = damagedHere;
        damaged += damagedInStep;
        if (damaged > options.maxDamagedSequences()) {
          throw data.passedOver().tooMany(damaged, options.maxDamagedSequences());
        }
        StepResult result;
        Backend.WeightScope weightsFixed = backend.stableWeights();
        try {
          result = pass(backend, collective, vlm, model, micro, true);
        } finally {
          weightsFixed.close();
        }
        double norm = optimizer.reduceAndClip(grads, options.clip());
        double lr = schedule.lr(step);
        boolean finite = Double.isFinite(result.loss()) && Double.isFinite(norm);
        if (finite) {
          optimizer.step(lr);
        } else {
          badSteps++;
          if (lead) {
            note(
                "warning: step %d has a non-finite loss or gradient (%s, %s); not applied",
                step + 1, result.loss(), norm);
          }
          if (badSteps > options.maxBadSteps()) {
            throw new IllegalStateException(
                "stopping: "
                    + badSteps
                    + " steps with a non-finite loss or gradient (more than --max-bad-steps "
                    + options.maxBadSteps()
                    + ")");
          }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        // The held-out loss with the weights this step made (its time is not the step's): a
        // forward pass alone.
        double evalLoss = Double.NaN;
        if (options.evaluatesAfter(step + 1)) {
          List<TrainingTask.MicroBatch> held =
              task.evaluation(model, collective.rank(), collective.size(), options.microBatch());
          StepResult evaluated = pass(backend, collective, vlm, model, held, false);
          evalLoss = evaluated.loss();
          if (lead) {
            note(
                "eval at step %d: held-out loss %.4f over %d sequences (%,d targets)",
                step + 1, evalLoss, options.evalSequences(), evaluated.targets());
          }
        }
        firstLoss = Double.isNaN(firstLoss) ? result.loss() : firstLoss;
        lastLoss = result.loss();
        // Every rank stops at the same step: a stop asked of any process (a gang's pods are not
        // all signalled at once) is summed over the ranks, and checkpointed there.
        boolean stopping =
            collective.allReduceSum(stop.requested() ? 1L : 0L) > 0 && step + 1 < options.steps();
        boolean checkpoint =
            stopping || (step + 1) % options.checkpointEvery() == 0 || step + 1 == options.steps();
        if (checkpoint && lead) {
          // One checkpoint in memory at a time: the one before must be on disk first.
          lastCheckpoint = reported(writes.await(), lastCheckpoint);
        }
        // Every rank takes part in gathering the sharded optimizer state; rank 0 writes it.
        Map<String, float[][]> moments = checkpoint ? optimizer.gatherMoments() : null;
        long optimizerSteps = checkpoint ? optimizer.steps() : 0;
        if (lead) {
          double flops = result.flops();
          appendMetrics(
              options.out(),
              step + 1,
              result,
              lr,
              norm,
              finite,
              seconds,
              flops,
              evalLoss,
              damagedInStep);
          String eta = eta(runStarted, step + 1 - state.step(), options.steps() - step - 1);
          note(
              "step %d/%d %s loss %.4f lr %.3g grad norm %.3f %,.0f tokens/s, eta %s",
              step + 1,
              options.steps(),
              progressBar(step + 1, options.steps()),
              result.loss(),
              lr,
              norm,
              result.tokens() / seconds,
              eta);
          Map<String, Object> figures = new LinkedHashMap<>();
          figures.put("step", step + 1);
          figures.put("steps", options.steps());
          figures.put("loss", result.loss());
          figures.put("lr", lr);
          figures.put("gradNorm", norm);
          lastEvalLoss = Double.isNaN(evalLoss) ? lastEvalLoss : evalLoss;
          if (!Double.isNaN(lastEvalLoss)) {
            // Every report carries the latest measurement: a report replaces the one before.
            figures.put("evalLoss", lastEvalLoss);
          }
          figures.put("tokensPerSecond", Math.round(result.tokens() / seconds));
          Double mfu = mfu(flops, seconds);
          if (mfu != null) {
            figures.put("mfu", mfu);
          }
          figures.put("secondsPerStep", Math.round(seconds * 1e3) / 1e3);
          figures.put("skippedSteps", badSteps);
          figures.put("damagedSequences", damaged);
          figures.put("eta", eta);
          progress.progress(figures);
          if (checkpoint) {
            // Rank 0's next position is the global position after this step's sequences. The
            // weights are copied now; the next step changes them while the copy is written.
            boolean best = options.keepBest() && improvedBest(bestStep, bestEvalLoss, evalLoss);
            if (best) {
              bestStep = step + 1;
              bestEvalLoss = evalLoss;
            }
            TrainerState next =
                new TrainerState(
                    step + 1, data.nextPosition(), badSteps, damaged, bestStep, bestEvalLoss);
            VisionLanguageModel.Snapshot weights = model.snapshot();
            double loss = result.loss();
            double heldOut = evalLoss;
            writes.submit(
                () ->
                    save(checkpoints, next, weights, moments, optimizerSteps, loss, heldOut, best));
          }
          lastCheckpoint = reported(writes.poll(), lastCheckpoint);
        }
        if (stopping) {
          if (lead) {
            lastCheckpoint = reported(writes.await(), lastCheckpoint);
            note(
                "stopped at step %d as asked; starting the run again continues from there",
                step + 1);
          }
          throw new TrainingStopped(
              "stopped at step "
                  + (step + 1)
                  + " of "
                  + options.steps()
                  + " as asked (a termination signal to this or another rank's process), with a"
                  + " checkpoint there: starting the run again continues from it");
        }
      }
      if (lead) {
        lastCheckpoint = reported(writes.await(), lastCheckpoint);
      }
    }
    return new Summary(options.steps(), firstLoss, lastLoss, lastCheckpoint);
  }

  /** Loss of one step, what it saw and its model FLOPs. */
  record StepResult(double loss, long targets, long tokens, double flops) {}

  /**
   * The loss of {@code micro} over all ranks, and with {@code backward} the gradients of the
   * projector and decoder; without, the forward alone (a held-out measurement), whose loss is the
   * very value the training pass gives.
   */
  static StepResult pass(
      Backend backend,
      Collective collective,
      OpenQwen2VL vlm,
      VisionLanguageModel model,
      List<TrainingTask.MicroBatch> micro,
      boolean backward) {
    if (backward) {
      model.projector().parameters().zeroGrads();
      model.decoder().parameters().zeroGrads();
    }
    long targets = 0;
    long tokens = 0;
    double flops = 0;
    int size = model.tower().config().imageSize();
    for (TrainingTask.MicroBatch batch : micro) {
      targets += batch.targets();
      tokens += batch.tokens();
      flops +=
          TrainingFlops.step(
              model.decoder().config(),
              model.tower().config(),
              model.projector().tokensPerImage(),
              batch.batch().rows(),
              batch.batch().tokens(),
              batch.targets(),
              batch.images());
    }
    // The mean is over the real tokens of the whole step, on every rank.
    long allTargets = collective.allReduceSum(targets);
    double lossSum = 0;
    for (TrainingTask.MicroBatch batch : micro) {
      if (batch.images() == 0) {
        // Text only (fine-tuning data has some): the decoder alone.
        Qwen2Batch rows = batch.batch();
        Qwen2Batch text =
            new Qwen2Batch(
                rows.rows(),
                rows.tokens(),
                rows.ids(),
                rows.positions(),
                rows.targets(),
                rows.mask(),
                rows.sampleStarts(),
                null,
                null);
        lossSum +=
            backward
                ? model.decoder().forwardBackwardSum(text, null, 1.0 / allTargets)
                : model.decoder().lossSum(text);
        continue;
      }
      Tensor features =
          model.tower().features(backend.fromHost(batch.pixels(), batch.images(), 3, size, size));
      lossSum +=
          backward
              ? vlm.forwardBackwardSum(batch.batch(), features, 1.0 / allTargets)
              : vlm.lossSum(batch.batch(), features);
    }
    double allLoss = collective.allReduceSum(lossSum);
    long allTokens = collective.allReduceSum(tokens);
    double allFlops = collective.allReduceSum(flops);
    return new StepResult(allLoss / allTargets, allTargets, allTokens, allFlops);
  }

  // ---- checkpoints ---------------------------------------------------------------------------

  /**
   * A checkpoint on disk, verified, and what the progress report says of it: its training loss, its
   * held-out loss (NaN when not measured at its step), and whether it is the best one kept.
   */
  record Written(long step, Path path, double loss, double evalLoss, boolean best, Instant time) {}

  /**
   * Writes a checkpoint and drops the oldest beyond --keep-last: on the checkpoint writer's thread
   * unless checkpoints are written in the foreground.
   */
  private Written save(
      Checkpoints checkpoints,
      TrainerState state,
      VisionLanguageModel.Snapshot weights,
      Map<String, float[][]> moments,
      long optimizerSteps,
      double loss,
      double evalLoss,
      boolean best)
      throws IOException {
    long started = System.nanoTime();
    Path written =
        checkpoints.write(
            state.step(),
            dir -> {
              weights.write(dir); // weights and config.json
              // Moments per parameter, so a run can resume with another sharding of them.
              SafetensorsWriter optimizerState =
                  new SafetensorsWriter().metadata("step", Long.toString(optimizerSteps));
              for (Map.Entry<String, float[][]> entry : moments.entrySet()) {
                float[][] pair = entry.getValue();
                optimizerState.add(
                    "m." + entry.getKey(), DType.F32, new int[] {pair[0].length}, pair[0]);
                optimizerState.add(
                    "v." + entry.getKey(), DType.F32, new int[] {pair[1].length}, pair[1]);
              }
              optimizerState.write(dir.resolve(OPTIMIZER));
              AtomicFiles.write(dir.resolve(STATE), JSON.writeValueAsBytes(state));
            });
    // A best recorded while --keep-best was on is protected only while it still is.
    checkpoints.prune(options.keepLast(), state.step(), options.keepBest() ? state.bestStep() : 0);
    note(
        "checkpoint %s (%.1f s%s)",
        written,
        (System.nanoTime() - started) / 1e9,
        options.backgroundCheckpoints() ? ", written while training went on" : "");
    return new Written(
        state.step(), written, loss, evalLoss, best, Instant.now().truncatedTo(ChronoUnit.SECONDS));
  }

  /** Reports a finished checkpoint, if there is one; the newest checkpoint's path. */
  private Path reported(Optional<Written> finished, Path latest) {
    if (finished.isEmpty()) {
      return latest;
    }
    Written checkpoint = finished.get();
    Map<String, Object> reported = new LinkedHashMap<>();
    reported.put("step", checkpoint.step());
    reported.put("path", checkpoint.path().toString());
    reported.put("loss", checkpoint.loss());
    if (Double.isFinite(checkpoint.evalLoss())) {
      reported.put("evalLoss", checkpoint.evalLoss());
    }
    if (checkpoint.best()) {
      // The lowest held-out loss so far, kept whatever its age (--keep-best).
      reported.put("best", true);
    }
    reported.put("verified", true);
    reported.put("time", checkpoint.time().toString());
    progress.checkpoint(reported);
    return checkpoint.path();
  }

  private static void restore(
      Path dir, VisionLanguageModel model, ShardedOptimizer optimizer, List<AdamW.Param> params)
      throws IOException {
    try (SafetensorsFile weights = SafetensorsFile.open(dir.resolve(WEIGHTS))) {
      model.tower().parameters().load(weights);
      model.projector().parameters().load(weights);
      model.decoder().parameters().load(weights);
    }
    try (SafetensorsFile state = SafetensorsFile.open(dir.resolve(OPTIMIZER))) {
      long step = Long.parseLong(state.metadata().get("step"));
      Map<String, float[][]> moments = new LinkedHashMap<>();
      for (AdamW.Param param : params) {
        moments.put(
            param.name(),
            new float[][] {
              state.readFloats("m." + param.name()), state.readFloats("v." + param.name())
            });
      }
      optimizer.load(step, moments);
    }
  }

  // ---- run identity and metrics --------------------------------------------------------------

  private void checkRunIdentity(Path out, TrainingTask task) throws IOException {
    Path file = out.resolve(RUN_FILE);
    Map<String, Object> identity = new LinkedHashMap<>(options.identity());
    identity.put("data", options.data().toAbsolutePath().normalize().toString());
    identity.putAll(task.identity());
    @SuppressWarnings("unchecked")
    Map<String, Object> normalised = LINE.readValue(LINE.writeValueAsBytes(identity), Map.class);
    if (Files.isRegularFile(file)) {
      @SuppressWarnings("unchecked")
      Map<String, Object> previous = LINE.readValue(file.toFile(), Map.class);
      if (!previous.equals(normalised)) {
        List<String> differing = new ArrayList<>();
        for (String key : normalised.keySet()) {
          if (!String.valueOf(previous.get(key)).equals(String.valueOf(normalised.get(key)))) {
            differing.add(key);
          }
        }
        throw new IllegalArgumentException(
            out
                + " holds a run with other settings ("
                + String.join(", ", differing)
                + "); continue it with the same ones or choose another --out");
      }
      return;
    }
    AtomicFiles.write(file, JSON.writeValueAsBytes(normalised));
  }

  private void appendMetrics(
      Path out,
      long step,
      StepResult result,
      double lr,
      double norm,
      boolean applied,
      double seconds,
      double flops,
      double evalLoss,
      long damagedSequences)
      throws IOException {
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("step", step);
    line.put("loss", result.loss());
    line.put("lr", lr);
    line.put("grad_norm", norm);
    line.put("tokens", result.tokens());
    line.put("targets", result.targets());
    line.put("tokens_per_s", Math.round(result.tokens() / seconds));
    line.put("mfu", mfu(flops, seconds));
    if (!applied) {
      line.put("skipped", true);
    }
    if (!Double.isNaN(evalLoss)) {
      line.put("eval_loss", evalLoss);
    }
    if (damagedSequences > 0) {
      line.put("damaged_sequences", damagedSequences);
    }
    Files.writeString(
        out.resolve(METRICS_FILE),
        LINE.writeValueAsString(line) + "\n",
        StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND);
  }

  /**
   * Model FLOPs utilisation, a ratio (0..1 on a real peak) to 4 decimals: {@code flops} of all
   * ranks in {@code seconds} against --peak-tflops per rank; null when no peak is given.
   */
  private Double mfu(double flops, double seconds) {
    return options.peakTflops() > 0
        ? Math.round(flops / seconds / (options.peakTflops() * 1e12 * options.ranks()) * 1e4) / 1e4
        : null;
  }

  /** Drops metric lines past {@code step}: a resumed run rewrites them. */
  private static void keepMetricsUpTo(Path file, long step) throws IOException {
    if (!Files.isRegularFile(file)) {
      return;
    }
    StringBuilder kept = new StringBuilder();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      try {
        if (LINE.readTree(line).path("step").asLong() <= step) {
          kept.append(line).append('\n');
        }
      } catch (IOException e) {
        // A line cut short by a kill: dropped, the step it described is redone.
      }
    }
    AtomicFiles.write(file, kept.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** {@code [#####.....]}: the share of the steps done, in 20 characters. */
  static String progressBar(long done, long total) {
    int filled = (int) (20 * done / Math.max(1, total));
    return "[" + "#".repeat(filled) + ".".repeat(20 - filled) + "]";
  }

  /** Time left at the mean pace of the steps done so far in this process, as 1h02m03s. */
  static String eta(long startedNanos, long stepsDone, long stepsLeft) {
    long seconds =
        stepsDone == 0
            ? 0
            : Math.round((System.nanoTime() - startedNanos) / 1e9 / stepsDone * stepsLeft);
    return seconds >= 3600
        ? String.format(
            Locale.ROOT, "%dh%02dm%02ds", seconds / 3600, seconds / 60 % 60, seconds % 60)
        : String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
  }

  private void note(String format, Object... args) {
    log.printf(Locale.ROOT, format + "%n", args);
    log.flush();
  }
}
