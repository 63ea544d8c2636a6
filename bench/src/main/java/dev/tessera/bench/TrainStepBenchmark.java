package dev.tessera.bench;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.GemmProfile;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.cpu.Vec;
import dev.tessera.engine.optim.AdamW;
import dev.tessera.engine.optim.GradClip;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.oracle.TorchQwen2;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.openblas.global.openblas;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * One training step of the reference configuration — forward, backward, global-norm clipping and
 * AdamW — on Tessera's CPU backend ({@link Qwen2Decoder#forwardBackward}, {@link GradClip#clip},
 * {@link AdamW#step}) against libtorch CPU ({@link TorchQwen2} with autograd, {@code
 * clip_grad_norm_} and {@code torch::optim::AdamW}) in the same process, from the same weights, on
 * the same fixed random batch and with the same thread count. Prints both losses of every step (the
 * two sides train the same model, so they agree closely for the first steps), then the median
 * milliseconds per step of each side, split into forward + backward and clip + optimizer, the model
 * GFLOP/s and the ratio Tessera / libtorch.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -Xmx4g -XX:+UseParallelGC -XX:+UseTransparentHugePages \
 *     -cp bench/target/tessera-bench.jar dev.tessera.bench.TrainStepBenchmark \
 *     [--warmup 3] [--steps 10] [--threads 1,2] [--only tessera|libtorch] [--gemm-profile]
 * </pre>
 *
 * <p>{@code --gemm-profile} also prints, per thread count, Tessera's matrix products over the timed
 * steps by shape ({@link GemmProfile}): products and milliseconds per step, and GFLOP/s inside the
 * step.
 *
 * <p>{@code --only} runs one side (for profiling, or to time it undisturbed). Run it through {@code
 * scripts/bench-train.sh}, which sets {@code OMP_WAIT_POLICY=PASSIVE}: libgomp's spin-waiting
 * threads otherwise slow libtorch down on a machine whose cores are shared.
 */
public final class TrainStepBenchmark {
  private TrainStepBenchmark() {}

  // The reference configuration: Qwen2, d=256, 4 layers, 4 query / 2 KV heads of 64, SwiGLU 1024,
  // vocab 4096, untied head; 4 rows of 256 tokens, continuous causal mask.
  private static final int HIDDEN = 256;
  private static final int INTERMEDIATE = 1024;
  private static final int LAYERS = 4;
  private static final int HEADS = 4;
  private static final int KV_HEADS = 2;
  private static final int VOCAB = 4096;
  private static final double RMS_EPS = 1e-6;
  private static final double ROPE_THETA = 10000.0;
  private static final int ROWS = 4;
  private static final int TOKENS = 256;
  private static final double LR = 1e-3;
  private static final double WEIGHT_DECAY = 0.01;
  private static final double MAX_NORM = 1.0;
  private static final double INIT_STD = 0.02;

  public static void main(String[] args) {
    int warmup = 3;
    int steps = 10;
    boolean tessera = true;
    boolean libtorch = true;
    boolean gemmProfile = false;
    int all = Runtime.getRuntime().availableProcessors();
    int[] threadCounts = all > 1 ? new int[] {1, all} : new int[] {1};
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--threads" ->
            threadCounts =
                Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
        case "--gemm-profile" -> gemmProfile = true;
        case "--only" -> {
          String side = args[++i];
          if (!side.equals("tessera") && !side.equals("libtorch")) {
            throw new IllegalArgumentException("--only takes tessera or libtorch, got " + side);
          }
          tessera = side.equals("tessera");
          libtorch = side.equals("libtorch");
        }
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (!Vec.SIMD) {
      System.out.println("warning: no Vector API; run with --add-modules jdk.incubator.vector");
    }
    Qwen2Config config =
        new Qwen2Config(
            HIDDEN,
            INTERMEDIATE,
            LAYERS,
            HEADS,
            KV_HEADS,
            VOCAB,
            RMS_EPS,
            ROPE_THETA,
            false,
            TOKENS,
            "float32");
    int n = ROWS * TOKENS;
    int hd = config.headDim();
    long matmulParams =
        (long) LAYERS
                * ((long) HIDDEN * HEADS * hd
                    + 2L * HIDDEN * config.kvDim()
                    + (long) HEADS * hd * HIDDEN
                    + 3L * HIDDEN * INTERMEDIATE)
            + (long) VOCAB * HIDDEN;
    double flops =
        6.0 * matmulParams * n + 6.0 * LAYERS * ROWS * HEADS * hd * (double) TOKENS * (TOKENS + 1);
    System.out.printf(
        "Qwen2 d=%d layers=%d heads=%d/%d (hd %d) ffn=%d vocab=%d untied; batch %d x %d tokens;"
            + " AdamW lr %g wd %g, clip %g%n",
        HIDDEN,
        LAYERS,
        HEADS,
        KV_HEADS,
        hd,
        INTERMEDIATE,
        VOCAB,
        ROWS,
        TOKENS,
        LR,
        WEIGHT_DECAY,
        MAX_NORM);
    System.out.printf(
        "FLOP/step = 6 * P_matmul * tokens + 6 * layers * rows * heads * hd * T * (T + 1)"
            + " = 6 * %d * %d + 6 * %d * %d * %d * %d * %d * %d = %.2f GFLOP%n",
        matmulParams, n, LAYERS, ROWS, HEADS, hd, TOKENS, TOKENS + 1, flops / 1e9);

    // The fixed random batch: targets are the next token of each row (a random one at the end).
    Random random = new Random(1234);
    int[] ids = new int[n];
    int[] targets = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = random.nextInt(VOCAB);
    }
    for (int i = 0; i < n; i++) {
      targets[i] = (i + 1) % TOKENS == 0 ? random.nextInt(VOCAB) : ids[i + 1];
    }
    Qwen2Batch batch = Qwen2Batch.text(ROWS, TOKENS, ids, targets);
    boolean[][][] allowed = new boolean[ROWS][TOKENS][TOKENS];
    for (boolean[][] row : allowed) {
      for (int t = 0; t < TOKENS; t++) {
        Arrays.fill(row[t], 0, t + 1, true);
      }
    }

    List<String> summary = new ArrayList<>();
    for (int threads : threadCounts) {
      summary.add(
          run(
              config,
              batch,
              allowed,
              threads,
              warmup,
              steps,
              flops,
              tessera,
              libtorch,
              gemmProfile));
    }
    System.out.println();
    System.out.printf(
        "%-7s %12s %12s %12s %12s %12s %12s %9s %9s %7s%n",
        "threads",
        "T fwd+bwd",
        "T opt",
        "T step ms",
        "lt fwd+bwd",
        "lt opt",
        "lt step ms",
        "T GF/s",
        "lt GF/s",
        "ratio");
    summary.forEach(System.out::println);
    System.out.println("(medians; ratio = Tessera ms / libtorch ms per step, goal <= 1.0)");
  }

  private static String run(
      Qwen2Config config,
      Qwen2Batch batch,
      boolean[][][] allowed,
      int threads,
      int warmup,
      int steps,
      double flops,
      boolean tessera,
      boolean libtorch,
      boolean gemmProfile) {
    Parallel.setThreads(threads);
    torch.set_num_threads(threads);
    // libtorch's matrix products run on OpenBLAS, whose own thread pool (one thread per core)
    // torch.set_num_threads does not limit.
    openblas.blas_set_num_threads(threads);
    System.out.printf(
        "%nthreads %d (Tessera %d, libtorch %d, its OpenBLAS %d): %d warm-up + %d timed steps%n",
        threads, threads, torch.get_num_threads(), openblas.blas_get_num_threads(), warmup, steps);
    CpuBackend cpu = CpuBackend.get();

    // Tessera: the decoder with random weights, AdamW over every named parameter.
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(42, INIT_STD);
    List<AdamW.Param> params = new ArrayList<>();
    List<Tensor> grads = new ArrayList<>();
    for (String name : decoder.parameters().names()) {
      Tensor grad = decoder.parameters().grad(name);
      params.add(new AdamW.Param(name, decoder.parameters().value(name), grad));
      grads.add(grad);
    }
    AdamW adamw = new AdamW(params, 0.9, 0.999, 1e-8, WEIGHT_DECAY);

    // libtorch: the test reference model on the same weights, two AdamWs (decay / no decay).
    TorchQwen2 reference = TorchQwen2.copyOf(config, decoder.parameters());
    long[] ids = Arrays.stream(batch.ids()).asLongStream().toArray();
    long[] positions = Arrays.stream(batch.positions()).asLongStream().toArray();
    long[] targets = Arrays.stream(batch.targets()).asLongStream().toArray();
    reference.fixInputs(ROWS, TOKENS, positions, allowed);
    TensorVector all = new TensorVector();
    TensorVector decayed = new TensorVector();
    TensorVector kept = new TensorVector();
    for (org.bytedeco.pytorch.Tensor p : reference.parameters().values()) {
      all.push_back(p);
      (p.dim() >= 2 ? decayed : kept).push_back(p);
    }
    org.bytedeco.pytorch.AdamW decayOpt =
        new org.bytedeco.pytorch.AdamW(decayed, options(WEIGHT_DECAY));
    org.bytedeco.pytorch.AdamW keepOpt = new org.bytedeco.pytorch.AdamW(kept, options(0));

    int total = warmup + steps;
    double[] oursPass = new double[steps];
    double[] oursOpt = new double[steps];
    double[] theirsPass = new double[steps];
    double[] theirsOpt = new double[steps];
    System.out.printf(
        "%5s %12s %12s %9s %10s %10s %10s %10s%n",
        "step", "Tessera loss", "libtorch", "rel diff", "T norm", "lt norm", "T ms", "lt ms");
    for (int s = 0; s < total; s++) {
      double loss = Double.NaN;
      double norm = Double.NaN;
      long t0 = 0;
      long t1 = 0;
      long t2 = 0;
      if (tessera) {
        if (gemmProfile && s == warmup) {
          GemmProfile.start();
        }
        t0 = System.nanoTime();
        decoder.parameters().zeroGrads();
        loss = decoder.forwardBackward(batch, null);
        t1 = System.nanoTime();
        norm = GradClip.clip(grads, MAX_NORM);
        adamw.step(LR);
        t2 = System.nanoTime();
      }

      float referenceLoss = Float.NaN;
      double referenceNorm = Double.NaN;
      long u0 = 0;
      long u1 = 0;
      long u2 = 0;
      if (libtorch) {
        // Frees the step's temporaries (graph, activations, gradient handles) when it closes.
        PointerScope scope = new PointerScope();
        try {
          u0 = System.nanoTime();
          decayOpt.zero_grad();
          keepOpt.zero_grad();
          referenceLoss =
              reference.lossAndBackward(
                  ROWS, TOKENS, ids, positions, allowed, targets, (float[]) null, null);
          u1 = System.nanoTime();
          referenceNorm = torch.clip_grad_norm_(all, MAX_NORM);
          decayOpt.step();
          keepOpt.step();
          u2 = System.nanoTime();
        } finally {
          scope.close();
        }
      }
      System.out.printf(
          "%5d %12.6f %12.6f %9.1e %10.4f %10.4f %10.1f %10.1f%s%n",
          s,
          loss,
          referenceLoss,
          Math.abs(loss - referenceLoss) / Math.abs(referenceLoss),
          norm,
          referenceNorm,
          (t2 - t0) / 1e6,
          (u2 - u0) / 1e6,
          s < warmup ? "  (warm-up)" : "");
      if (s >= warmup) {
        int i = s - warmup;
        oursPass[i] = (t1 - t0) / 1e6;
        oursOpt[i] = (t2 - t1) / 1e6;
        theirsPass[i] = (u1 - u0) / 1e6;
        theirsOpt[i] = (u2 - u1) / 1e6;
      }
    }
    double[] oursStep = new double[steps];
    double[] theirsStep = new double[steps];
    for (int i = 0; i < steps; i++) {
      oursStep[i] = oursPass[i] + oursOpt[i];
      theirsStep[i] = theirsPass[i] + theirsOpt[i];
    }
    double ours = median(oursStep);
    double theirs = median(theirsStep);
    if (gemmProfile && tessera) {
      printGemmProfile(GemmProfile.stop(), steps, ours);
    }
    // A side that did not run (--only) shows as "-" rather than as zeros and an infinite ratio.
    return String.format(
        "%-7d %12s %12s %12s %12s %12s %12s %9s %9s %7s",
        threads,
        cell(tessera, median(oursPass), "%.1f"),
        cell(tessera, median(oursOpt), "%.1f"),
        cell(tessera, ours, "%.1f"),
        cell(libtorch, median(theirsPass), "%.1f"),
        cell(libtorch, median(theirsOpt), "%.1f"),
        cell(libtorch, theirs, "%.1f"),
        cell(tessera, flops / ours / 1e6, "%.1f"),
        cell(libtorch, flops / theirs / 1e6, "%.1f"),
        cell(tessera && libtorch, ours / theirs, "%.2f"));
  }

  private static String cell(boolean ran, double value, String format) {
    return ran ? String.format(format, value) : "-";
  }

  /** libtorch AdamW with Tessera's hyper-parameters (its defaults: betas 0.9/0.999, eps 1e-8). */
  private static AdamWOptions options(double weightDecay) {
    AdamWOptions options = new AdamWOptions(LR);
    // betas is a std::tuple<double, double>; libstdc++ stores its last element first.
    options.betas().put(0, 0.999).put(1, 0.9);
    options.eps().put(1e-8);
    options.weight_decay().put(weightDecay);
    return options;
  }

  /** Tessera's matrix products over the timed steps, by shape: per step, and their rate. */
  private static void printGemmProfile(List<GemmProfile.Row> rows, int steps, double stepMs) {
    System.out.printf(
        "%nmatrix products per timed step, by shape (+C: added to C)%n%-24s %9s %9s %8s %8s%n",
        "layout M x N x K", "products", "ms", "share", "GFLOP/s");
    double ms = 0;
    double flop = 0;
    for (GemmProfile.Row row : rows) {
      double rowMs = row.nanos() / 1e6 / steps;
      ms += rowMs;
      flop += row.shape().flop() * row.products() / steps;
      System.out.printf(
          "%-24s %9.1f %9.2f %7.1f%% %8.1f%n",
          row.shape(), (double) row.products() / steps, rowMs, 100 * rowMs / stepMs, row.gflops());
    }
    System.out.printf(
        "%-24s %9s %9.2f %7.1f%% %8.1f%n", "all", "", ms, 100 * ms / stepMs, flop / ms / 1e6);
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int m = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
  }
}
