package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.cpu.Gemm;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.cpu.Vec;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * A classifier ({@code logits = input · weightᵀ}, no bias) and the cross-entropy over its logits,
 * forward and backward in one op that never holds a row's logits: CPU only.
 *
 * <p>Why: with a narrow input (the tiny preset's 64 features against a 151,936-entry vocabulary)
 * each logit costs only 2 × 64 flops to make, while the unfused route ({@link Matmul}, {@link
 * CrossEntropy}, {@link Matmul#backward}) writes every logit to memory and reads it four more
 * times: at that width it is bound by memory, not arithmetic. Here the vocabulary is taken a block
 * at a time, small enough for the block's logits to stay in cache:
 *
 * <ol>
 *   <li>each block's logits are computed, and each row's maximum and sum of exponentials over the
 *       block kept; the blocks' figures then combine into each row's log-sum-exp;
 *   <li>each block's logits are computed again, turned into {@code (softmax - onehot) · lossScale}
 *       in place, and fed at once to both products of the backward: the block's rows of {@code
 *       dweight} and a partial {@code dinput}.
 * </ol>
 *
 * The second product of the logits (a third more arithmetic than the unfused route) is the price of
 * never writing them out. For wide inputs that price is higher than the traffic it saves, and the
 * unfused route is faster; {@link #pays} says which (measured by {@code ClassifierLossBenchmark}).
 *
 * <p>Determinism: the vocabulary is split into a fixed number of groups of blocks whatever the
 * thread count; each group adds its blocks' {@code dinput} contributions in order, and the groups'
 * sums are added in group order, so results are bit-identical for any thread count.
 *
 * <p>PyTorch: {@code F.cross_entropy(input @ weight.T, targets, ignore_index=-100,
 * reduction="sum")} for the returned value; gradients are those of that sum times {@code
 * lossScale}.
 */
public final class LinearCrossEntropy {
  /** Groups of vocabulary blocks, fixed so that the summation order does not follow the threads. */
  static final int GROUPS = 16;

  /** Bytes of logits per block: a block's logits and weights stay in a core's L2 cache. */
  private static final int BLOCK_BYTES = 512 * 1024;

  /** Widest input for which the fused op beats the unfused route (see {@link #pays}). */
  static final int MAX_FUSED_WIDTH = 64;

  /** The system property that overrides where the fused op is taken: auto, on or off. */
  public static final String ROUTE_PROPERTY = "tessera.fusedClassifierLoss";

  private static final boolean FUSED_ON_THIS_CPU =
      fusedRoute(System.getProperty(ROUTE_PROPERTY, "auto"), Vec.BITS);

  /** The route {@link #withRoute} set, or null for this CPU's. */
  private static volatile Boolean forcedRoute;

  private LinearCrossEntropy() {}

  /**
   * Runs {@code work} with narrow inputs taking ({@code fused} true) or leaving the fused route,
   * whatever this CPU's choice: so tests run both routes on any machine.
   */
  public static <T> T withRoute(boolean fused, Supplier<T> work) {
    Boolean before = forcedRoute;
    forcedRoute = fused;
    try {
      return work.get();
    } finally {
      forcedRoute = before;
    }
  }

  /**
   * Whether the fused op is the faster route for {@code input} ([N, H]): a CPU tensor of at most
   * {@link #MAX_FUSED_WIDTH} features, on a CPU where it pays (see {@link #fusedRoute}).
   */
  public static boolean pays(Tensor input) {
    Boolean forced = forcedRoute;
    return (forced != null ? forced : FUSED_ON_THIS_CPU)
        && Ops.deviceKernels(input) == null
        && input.rank() == 2
        && input.dim(1) <= MAX_FUSED_WIDTH;
  }

  /**
   * Whether narrow inputs take the fused op, from the {@value #ROUTE_PROPERTY} setting ({@code
   * auto}, the default, {@code on} or {@code off}) and the width of the CPU's vectors. Measured by
   * {@code ClassifierLossBenchmark} (docs/benchmarks.md): with 512-bit vectors (an Intel Xeon,
   * AVX-512) it took 0.74–1.05 of the unfused time at 64 features, with 256-bit ones (an AMD EPYC,
   * AVX2) 1.16–1.47 whatever its block size, since recomputing the logits costs twice the
   * instructions there. So {@code auto} takes it with vectors of 512 bits or more.
   */
  static boolean fusedRoute(String setting, int vectorBits) {
    return switch (setting) {
      case "auto" -> vectorBits >= 512;
      case "on" -> true;
      case "off" -> false;
      default ->
          throw new IllegalArgumentException(
              "-D" + ROUTE_PROPERTY + "=" + setting + ": expected auto, on or off");
    };
  }

  /**
   * The summed loss alone: {@link #forwardBackward}'s first pass, which gives the very value {@link
   * #forwardBackward} returns, without the second pass and its two gradient products.
   */
  public static double forward(Tensor input, Tensor weight, int[] targets) {
    return forwardBackward(null, null, input, weight, targets, 1f, false);
  }

  /**
   * Summed loss of the rows with a target, and the gradient of that sum times {@code lossScale}
   * written to or added to {@code dinput}, and added to {@code dweight}.
   *
   * @param dinput [N, H] receives the input's gradient; null (with dweight null) for the loss alone
   *     ({@link #forward})
   * @param dweight [V, H] the weight's gradient is added to it
   * @param input [N, H]
   * @param weight [V, H]
   * @param targets class index in {@code [0, V)} or {@link CrossEntropy#IGNORE_INDEX} for each of
   *     the N rows
   * @param lossScale factor applied to the gradients (not to the returned loss)
   * @param accumulate whether the input's gradient is added to {@code dinput} (else written)
   * @return the sum over rows with a target of {@code logsumexp(logits[row]) -
   *     logits[row][target]}, unscaled
   */
  public static double forwardBackward(
      Tensor dinput,
      Tensor dweight,
      Tensor input,
      Tensor weight,
      int[] targets,
      float lossScale,
      boolean accumulate) {
    // With dinput null (forward) only the first pass runs.
    boolean backward = dinput != null;
    if (input.rank() != 2 || weight.rank() != 2 || input.dim(1) != weight.dim(1)) {
      throw new IllegalArgumentException(
          "input must be [N, H] and weight [V, H], got "
              + Arrays.toString(input.shape())
              + " and "
              + Arrays.toString(weight.shape()));
    }
    if (Ops.deviceKernels(input, weight) != null
        || (backward && Ops.deviceKernels(dinput, dweight) != null)) {
      throw new IllegalArgumentException(
          "the fused classifier loss runs on CPU tensors only; use Matmul and CrossEntropy");
    }
    int n = input.dim(0);
    int h = input.dim(1);
    int v = weight.dim(0);
    if (backward) {
      dinput.requireSize("dinput", (long) n * h);
      dweight.requireSize("dweight", (long) v * h);
    }
    if (targets.length != n) {
      throw new IllegalArgumentException(
          "targets has " + targets.length + " entries for " + n + " rows");
    }
    CrossEntropy.requireClasses(targets, 0, n, v);
    float[] x = CpuBackend.data(input);
    int xOff = CpuBackend.offset(input);
    float[] w = CpuBackend.data(weight);
    int wOff = CpuBackend.offset(weight);

    int block = blockColumns(n, v);
    int blocks = (v + block - 1) / block;
    int groups = Math.min(GROUPS, blocks);

    // Pass 1: each block's maximum and sum of exponentials per row, and the targets' logits.
    float[] blockMax = new float[blocks * n];
    double[] blockSum = new double[blocks * n];
    float[] targetLogit = new float[n];
    Parallel.forRange(
        groups,
        1,
        (from, to) -> {
          float[] logits = new float[n * block];
          for (int b = firstBlock(from, blocks, groups); b < firstBlock(to, blocks, groups); b++) {
            int v0 = b * block;
            int cols = Math.min(block, v - v0);
            blockLogits(logits, x, xOff, n, h, w, wOff, v0, cols);
            for (int row = 0; row < n; row++) {
              int target = targets[row];
              if (target == CrossEntropy.IGNORE_INDEX) {
                continue;
              }
              int base = row * cols;
              if (target >= v0 && target < v0 + cols) {
                targetLogit[row] = logits[base + target - v0];
              }
              float max = FastMath.max(logits, base, cols);
              blockMax[b * n + row] = max;
              blockSum[b * n + row] =
                  FastMath.expShiftSumDouble(logits, base, max, logits, base, cols);
            }
          }
        });

    // Each row's maximum and sum over the whole vocabulary, and its loss.
    float[] rowMax = new float[n];
    float[] rowScale = new float[n];
    double loss = 0;
    for (int row = 0; row < n; row++) {
      if (targets[row] == CrossEntropy.IGNORE_INDEX) {
        continue;
      }
      float max = Float.NEGATIVE_INFINITY;
      for (int b = 0; b < blocks; b++) {
        max = Math.max(max, blockMax[b * n + row]);
      }
      double sum = 0;
      for (int b = 0; b < blocks; b++) {
        sum += blockSum[b * n + row] * Math.exp((double) blockMax[b * n + row] - max);
      }
      rowMax[row] = max;
      rowScale[row] = (float) (lossScale / sum);
      loss += max + Math.log(sum) - targetLogit[row];
    }
    if (!backward) {
      return loss;
    }
    float[] dw = CpuBackend.data(dweight);
    int dwOff = CpuBackend.offset(dweight);

    // Pass 2: the block's logits again, as scaled gradients, into both backward products.
    float[][] groupDInput = new float[groups][];
    Parallel.forRange(
        groups,
        1,
        (from, to) -> {
          float[] logits = new float[n * block];
          for (int g = from; g < to; g++) {
            float[] partial = new float[n * h];
            for (int b = firstBlock(g, blocks, groups);
                b < firstBlock(g + 1, blocks, groups);
                b++) {
              int v0 = b * block;
              int cols = Math.min(block, v - v0);
              blockLogits(logits, x, xOff, n, h, w, wOff, v0, cols);
              for (int row = 0; row < n; row++) {
                int base = row * cols;
                int target = targets[row];
                if (target == CrossEntropy.IGNORE_INDEX) {
                  Arrays.fill(logits, base, base + cols, 0f);
                  continue;
                }
                FastMath.expShiftSum(logits, base, rowMax[row], logits, base, cols);
                FastMath.scale(logits, base, rowScale[row], cols);
                if (target >= v0 && target < v0 + cols) {
                  logits[base + target - v0] -= lossScale;
                }
              }
              // dweight[v0 .. v0+cols) += dlogitsᵀ · input; dinput (this group's) += dlogits · w.
              Gemm.sgemm(
                  true,
                  false,
                  cols,
                  h,
                  n,
                  1f,
                  logits,
                  0,
                  cols,
                  x,
                  xOff,
                  h,
                  1f,
                  dw,
                  dwOff + v0 * h,
                  h);
              Gemm.sgemm(
                  false,
                  false,
                  n,
                  h,
                  cols,
                  1f,
                  logits,
                  0,
                  cols,
                  w,
                  wOff + v0 * h,
                  h,
                  1f,
                  partial,
                  0,
                  h);
            }
            groupDInput[g] = partial;
          }
        });
    float[] dx = CpuBackend.data(dinput);
    int dxOff = CpuBackend.offset(dinput);
    if (!accumulate) {
      Arrays.fill(dx, dxOff, dxOff + n * h, 0f);
    }
    for (int g = 0; g < groups; g++) {
      float[] partial = groupDInput[g];
      for (int i = 0; i < n * h; i++) {
        dx[dxOff + i] += partial[i];
      }
    }
    return loss;
  }

  /**
   * {@code logits[N, cols] = input · weight[v0, v0 + cols)ᵀ}: one block's logits, computed the same
   * way in both passes, so the second pass sees the very values the first one summed.
   */
  private static void blockLogits(
      float[] logits, float[] x, int xOff, int n, int h, float[] w, int wOff, int v0, int cols) {
    Gemm.sgemm(false, true, n, cols, h, 1f, x, xOff, h, w, wOff + v0 * h, h, 0f, logits, 0, cols);
  }

  /** The first of group {@code g}'s blocks (group {@code groups} gives the end). */
  private static int firstBlock(int g, int blocks, int groups) {
    return (int) ((long) blocks * g / groups);
  }

  /** Vocabulary entries per block: {@link #BLOCK_BYTES} of logits, a multiple of 16. */
  static int blockColumns(int rows, int vocab) {
    int columns = Math.max(16, BLOCK_BYTES / 4 / Math.max(1, rows) / 16 * 16);
    return Math.min(columns, vocab);
  }
}
