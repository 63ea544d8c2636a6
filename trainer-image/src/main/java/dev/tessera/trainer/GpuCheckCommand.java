package dev.tessera.trainer;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cuda.CudaBackend;
import dev.tessera.engine.cuda.CudaException;
import dev.tessera.engine.cuda.GemmRate;
import dev.tessera.engine.cuda.KernelCheck;
import dev.tessera.engine.cuda.KernelProfile;
import dev.tessera.engine.cuda.NcclCollective;
import dev.tessera.engine.dist.InProcessCollective;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.engine.optim.AdamW;
import dev.tessera.engine.optim.GradClip;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.trainer.pretrain.MemoryPlan;
import dev.tessera.trainer.pretrain.TrainingFlops;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera-trainer gpu-check}: on a machine with a GPU, runs every CUDA kernel against the
 * CPU backend on fresh random inputs, and the curation scorers' models ({@link InferenceCheck}),
 * measures the card's matrix rates, and times training steps of the Qwen2.5-1.5B decoder shape
 * (random weights) with tokens/s and MFU against the measured bf16 rate. scripts/gpu-check.sh runs
 * it with a small bundled Java runtime.
 */
@Command(
    name = "gpu-check",
    mixinStandardHelpOptions = true,
    description = {
      "Checks every CUDA kernel against the CPU backend and times training steps of the"
          + " Qwen2.5-1.5B decoder shape on GPU 0. Exit code 1 when a kernel check fails."
    })
final class GpuCheckCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--device", description = "GPU index (default: ${DEFAULT-VALUE}).")
  int device = 0;

  @Option(names = "--seed", description = "Seed of the random inputs (default: ${DEFAULT-VALUE}).")
  long seed = 20261126;

  @Option(names = "--skip-kernels", description = "Skip the kernel checks.")
  boolean skipKernels;

  @Option(
      names = "--activation-checkpointing",
      description = "Time the training steps with per-layer activation checkpointing.")
  boolean activationCheckpointing;

  @Option(names = "--skip-training", description = "Skip the GEMM rates and the training steps.")
  boolean skipTraining;

  @Option(names = "--tokens", description = "Tokens per training step (default: ${DEFAULT-VALUE}).")
  int tokens = 4096;

  @Option(names = "--layers", description = "Decoder layers (default: 28, as Qwen2.5-1.5B).")
  int layers = 28;

  @Option(names = "--steps", description = "Timed training steps (default: ${DEFAULT-VALUE}).")
  int steps = 3;

  @Option(
      names = "--lr",
      description = "Learning rate of the timed steps (default: ${DEFAULT-VALUE}).")
  double learningRate = 1e-4;

  @Option(
      names = "--gemm-size",
      description = "n of the n×n×n rate GEMMs (default: ${DEFAULT-VALUE}).")
  int gemmSize = 8192;

  /** Relative error allowed for products of bf16-rounded operands (8 mantissa bits). */
  static final double BF16_TOLERANCE = 1e-2;

  @Override
  public Integer call() {
    try {
      return check();
    } catch (CudaException e) {
      spec.commandLine().getErr().println("gpu-check: " + e.getMessage());
      return TrainerMain.NO_DEVICE;
    }
  }

  private int check() {
    PrintWriter out = spec.commandLine().getOut();
    List<String> summary = new ArrayList<>();
    boolean failed = false;
    if (!skipKernels) {
      try (CudaBackend cuda = CudaBackend.open(device, CudaBackend.GemmPrecision.FP32)) {
        out.println("device: " + cuda.describe());
        out.flush();
        List<KernelCheck.Result> results = new KernelCheck(cuda, seed).runAll();
        int passed = 0;
        for (KernelCheck.Result result : results) {
          out.println(result);
          if (result.passed()) {
            passed++;
          }
        }
        failed = passed < results.size();
        summary.add(
            String.format(
                Locale.ROOT,
                "kernel checks: %d of %d outputs within tolerance",
                passed,
                results.size()));
        for (KernelCheck.Result result : results) {
          if (!result.passed()) {
            summary.add("  FAILED " + result);
          }
        }
        // The curation scorers' model code through the device's kernels.
        List<InferenceCheck.Result> inference = new InferenceCheck(cuda, seed + 2).runAll();
        inference.forEach(out::println);
        long passedInference = inference.stream().filter(InferenceCheck.Result::passed).count();
        failed |= passedInference < inference.size();
        summary.add(
            String.format(
                Locale.ROOT,
                "scorer models (CLIP, SigLIP, Qwen2 prefill and continuations): %d of %d within"
                    + " %.0e",
                passedInference,
                inference.size(),
                InferenceCheck.TOLERANCE));
        out.println(cuda.memoryReport());
        String ncclLine = ncclCheck(cuda);
        out.println(ncclLine);
        summary.add(ncclLine);
        failed |= !ncclLine.startsWith("NCCL ok");
        out.flush();
      }
    }
    if (!skipTraining) {
      try (CudaBackend cuda = CudaBackend.open(device, CudaBackend.GemmPrecision.BF16)) {
        out.println("device: " + cuda.describe());
        // The training precision's GEMMs against the CPU, within bf16 rounding.
        KernelCheck bf16 = new KernelCheck(cuda, seed + 1);
        bf16.matmul(BF16_TOLERANCE);
        List<KernelCheck.Result> gemms = bf16.attention(BF16_TOLERANCE);
        gemms.forEach(out::println);
        long passedGemms = gemms.stream().filter(KernelCheck.Result::passed).count();
        failed |= passedGemms < gemms.size();
        summary.add(
            String.format(
                Locale.ROOT,
                "bf16 checks (GEMMs, tensor-core attention): %d of %d outputs within %.0e",
                passedGemms,
                gemms.size(),
                BF16_TOLERANCE));
        double peak = 0;
        for (GemmRate.Mode mode : GemmRate.Mode.values()) {
          double rate = GemmRate.tflops(cuda, mode, gemmSize, 10);
          if (mode == GemmRate.Mode.BF16_INPUTS) {
            peak = rate;
          }
          String line =
              String.format(Locale.ROOT, "GEMM %d^3 %-18s %7.1f TFLOP/s", gemmSize, mode, rate);
          out.println(line);
          summary.add(line);
          out.flush();
        }
        summary.addAll(trainingSteps(cuda, decoderConfig(), peak, out));
      }
    }
    out.println();
    out.println("== summary ==");
    summary.forEach(out::println);
    out.flush();
    return failed ? 1 : 0;
  }

  /**
   * The NCCL collectives on this one GPU (a communicator of one rank: every collective must give
   * back its input), which runs the whole path: library, unique id, communicator, device buffers.
   */
  private String ncclCheck(CudaBackend cuda) {
    try (NcclCollective nccl = NcclCollective.open(cuda, InProcessCollective.group(1).get(0))) {
      SplittableRandom random = new SplittableRandom(seed);
      float[] values = new float[4099];
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) random.nextGaussian();
      }
      Tensor tensor = cuda.fromHost(values, values.length);
      nccl.allReduceSum(tensor);
      nccl.reduceSum(tensor, 0);
      nccl.broadcast(tensor, 0);
      Tensor scattered = cuda.zeros(values.length);
      nccl.reduceScatterSum(tensor, scattered);
      Tensor gathered = cuda.zeros(values.length);
      nccl.allGather(scattered, gathered);
      boolean same = Arrays.equals(cuda.toHost(gathered), values);
      return String.format(
          Locale.ROOT,
          "NCCL %s %d: all-reduce, reduce, broadcast, reduce-scatter, all-gather on one rank%s",
          same ? "ok," : "FAILED,",
          NcclCollective.version(),
          same ? " give back their input" : " changed the values");
    } catch (CudaException e) {
      return "NCCL FAILED: " + e.getMessage();
    }
  }

  /** Qwen2.5-1.5B's decoder (config.json of the released model), with {@code layers} layers. */
  private static final double GIB = 1L << 30;

  private Qwen2Config decoderConfig() {
    return new Qwen2Config(
        1536, 8960, layers, 12, 2, 151_936, 1e-6, 1_000_000, true, 32_768, "bfloat16");
  }

  /**
   * Times {@code steps} training steps (after one warm-up) of a decoder with random weights on
   * {@code backend}: forward and backward over one packed row, clipping, AdamW.
   */
  List<String> trainingSteps(
      Backend backend, Qwen2Config config, double peakTflops, PrintWriter out) {
    List<String> lines = new ArrayList<>();
    Qwen2Decoder decoder = new Qwen2Decoder(backend, config, activationCheckpointing);
    Parameters parameters = decoder.parameters();
    if (backend instanceof CudaBackend cuda) {
      // Random weights drawn on the device: 1.5 billion host draws would take a minute.
      int salt = 1;
      for (Map.Entry<String, Tensor> entry : parameters.values().entrySet()) {
        boolean norm = entry.getKey().contains("norm");
        cuda.fillUniform(entry.getValue(), salt++, norm ? 0.9f : -0.02f, norm ? 1.1f : 0.02f);
      }
    } else {
      parameters.initialise(seed, 0.02);
    }
    List<AdamW.Param> params = new ArrayList<>();
    for (String name : parameters.names()) {
      params.add(new AdamW.Param(name, parameters.value(name), parameters.grad(name)));
    }
    AdamW optimizer = new AdamW(params);
    Qwen2Batch batch = packedBatch(config);
    double flops =
        TrainingFlops.decoderStep(config, 1, tokens, CrossEntropy.countValid(batch.targets()));
    out.printf(
        Locale.ROOT,
        "training steps: Qwen2 decoder %d layers, hidden %d, vocab %d, %d tokens per step"
            + " (document mask), %.1f TFLOP per step%n",
        config.numHiddenLayers(),
        config.hiddenSize(),
        config.vocabSize(),
        tokens,
        flops / 1e12);
    if (backend instanceof CudaBackend cuda) {
      // The peak counts the training steps' tensors alone, not the checks' garbage before them.
      cuda.reclaim();
      cuda.allocator().resetPeak();
    }
    double[] seconds = new double[steps + 1];
    for (int step = 0; step <= steps; step++) {
      long start = System.nanoTime();
      double loss;
      // Opened first, right after the last update, so the optimizer's bf16 weights serve it.
      Backend.WeightScope weightsFixed = backend.stableWeights();
      try {
        parameters.zeroGrads();
        loss = decoder.forwardBackward(batch, null);
      } finally {
        weightsFixed.close();
      }
      backend.synchronize();
      long backwardDone = System.nanoTime();
      // One flat gradient buffer: a single norm reduction; AdamW applies the clipping factor.
      double norm = GradClip.globalNorm(List.of(parameters.flatGrads()));
      backend.synchronize();
      long clipDone = System.nanoTime();
      optimizer.step(learningRate, GradClip.coefficient(norm, 1.0));
      backend.synchronize();
      long end = System.nanoTime();
      seconds[step] = (end - start) / 1e9;
      out.printf(
          Locale.ROOT,
          "step %d%s: %.3f s (forward+backward %.3f, clip %.3f, AdamW %.3f), loss %.4f, grad norm"
              + " %.3f, %.0f tokens/s, MFU %.1f%%%n",
          step,
          step == 0 ? " (warm-up)" : "",
          seconds[step],
          (backwardDone - start) / 1e9,
          (clipDone - backwardDone) / 1e9,
          (end - clipDone) / 1e9,
          loss,
          norm,
          tokens / seconds[step],
          100 * flops / seconds[step] / (peakTflops * 1e12));
      out.flush();
    }
    if (backend instanceof CudaBackend cuda) {
      // The trainer's memory plan for this decoder against what the allocator saw.
      MemoryPlan plan = MemoryPlan.of(config, null, 0, tokens, 1, 1, 0, activationCheckpointing);
      String memory =
          String.format(
              Locale.ROOT,
              "memory (%s): allocator peak %.2f GiB of live tensors, %s plan %.2f GiB (%.2f"
                  + " without its 10%% margin: activations %.2f, backward working set %.2f)",
              activationCheckpointing ? "activation checkpointing" : "no checkpointing",
              cuda.allocator().peakInUseBytes() / GIB,
              cuda.allocator().peakInUseBytes() <= plan.total() ? "within the" : "ABOVE the",
              plan.total() / GIB,
              (plan.total() - plan.components().get("margin (allocator, workspaces)")) / GIB,
              plan.components().get("decoder activations") / GIB,
              plan.components().get("decoder backward working set") / GIB);
      out.println(memory);
      lines.add(memory);
      // With TESSERA_CUDA_TRACE_MEMORY=1: which requests held the memory at the peak.
      out.print(cuda.allocator().peakReport(30));
    }
    if (backend instanceof CudaBackend cuda) {
      // One more step with every operation timed between events on the stream: where the time goes.
      KernelProfile profile = new KernelProfile();
      cuda.profile(profile);
      Backend.WeightScope profiledScope = backend.stableWeights();
      try {
        parameters.zeroGrads();
        decoder.forwardBackward(batch, null);
      } finally {
        profiledScope.close();
      }
      double profiledNorm = GradClip.globalNorm(List.of(parameters.flatGrads()));
      optimizer.step(learningRate, GradClip.coefficient(profiledNorm, 1.0));
      cuda.profile(null);
      String report = profile.report(30);
      out.println("profile of one step (device time per operation, between events on the stream):");
      out.print(report);
      lines.add("profile of one step, top operations:");
      report.lines().limit(13).forEach(lines::add);
    }
    double[] timed = Arrays.copyOfRange(seconds, 1, seconds.length);
    Arrays.sort(timed);
    double median = timed[timed.length / 2];
    lines.add(
        String.format(
            Locale.ROOT,
            "training step (%d layers, %d tokens): median %.3f s, %.0f tokens/s, %.1f TFLOP/s,"
                + " MFU %.1f%% of the measured bf16 rate %.0f TFLOP/s",
            config.numHiddenLayers(),
            tokens,
            median,
            tokens / median,
            flops / median / 1e12,
            100 * flops / median / (peakTflops * 1e12),
            peakTflops));
    if (backend instanceof CudaBackend cuda) {
      lines.add(cuda.memoryReport());
    }
    return lines;
  }

  /** One packed row of random samples: positions restart per sample, document mask. */
  private Qwen2Batch packedBatch(Qwen2Config config) {
    SplittableRandom random = new SplittableRandom(seed);
    int[] ids = new int[tokens];
    int[] targets = new int[tokens];
    int[] positions = new int[tokens];
    List<Integer> starts = new ArrayList<>();
    int sampleStart = 0;
    int sampleLength = 0;
    for (int t = 0; t < tokens; t++) {
      if (t == sampleStart + sampleLength) {
        sampleStart = t;
        sampleLength = 64 + random.nextInt(512);
        starts.add(t);
      }
      ids[t] = random.nextInt(config.vocabSize());
      positions[t] = t - sampleStart;
    }
    for (int t = 0; t < tokens; t++) {
      boolean last = t + 1 == tokens || starts.contains(t + 1);
      targets[t] = last ? -100 : ids[t + 1];
    }
    int[][] sampleStarts = {starts.stream().mapToInt(Integer::intValue).toArray()};
    return new Qwen2Batch(
        1, tokens, ids, positions, targets, AttentionMask.DOCUMENT, sampleStarts, null, null);
  }
}
