package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.cpu.Parallel;
import java.util.Arrays;

/**
 * Token-level cross-entropy over a chunk of logits, fused with its gradient: one pass computes the
 * summed loss of the chunk's non-ignored tokens and writes {@code dlogits = (softmax(logits) -
 * onehot(target)) * lossScale}. This is the inner step of a chunked classifier + loss that never
 * holds the logits of a whole batch: the caller computes a chunk of logits, calls this op, feeds
 * {@code dlogits} back through the classifier, and moves on to the next chunk.
 *
 * <p>Targets equal to {@link #IGNORE_INDEX} (-100, as Hugging Face / LLaVA labels mark prompt,
 * image and padding positions) add nothing to the loss and get zero gradient. {@code lossScale} is
 * the caller's: with {@code 1 / (non-ignored tokens in the whole batch)} (see {@link #countValid}),
 * the chunks' {@code loss * lossScale} add up to the batch's mean loss and their {@code dlogits}
 * are exactly the gradient of that mean.
 *
 * <p>PyTorch: {@code F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")} for the
 * returned value; {@code dlogits} is the gradient of that sum times {@code lossScale}.
 */
public final class CrossEntropy {
  /** The target value that marks a token without loss (PyTorch's default {@code ignore_index}). */
  public static final int IGNORE_INDEX = -100;

  private CrossEntropy() {}

  /**
   * Summed loss and its scaled gradient for one chunk. Unlike backward ops elsewhere, {@code
   * dlogits} is <em>written</em>, not accumulated: logits are a per-chunk temporary, and {@code
   * dlogits} may be the very same tensor as {@code logits} (the gradient then overwrites the logits
   * in place, row by row, with no extra buffer).
   *
   * @param dlogits [N, V] receives {@code (softmax - onehot) * lossScale}; rows of ignored tokens
   *     are set to zero. May be {@code logits} itself.
   * @param logits [N, V]
   * @param targets class index in {@code [0, V)} or {@link #IGNORE_INDEX} for each of the N rows,
   *     read from {@code targets[targetOffset ..]}
   * @param targetOffset index of row 0's target in {@code targets}
   * @param lossScale factor applied to the gradient (not to the returned loss)
   * @return the sum over non-ignored rows of {@code logsumexp(logits[row]) - logits[row][target]},
   *     unscaled; 0 when every row is ignored
   */
  public static double forwardBackward(
      Tensor dlogits, Tensor logits, int[] targets, int targetOffset, float lossScale) {
    if (logits.rank() != 2) {
      throw new IllegalArgumentException(
          "logits must be [N, V], got shape " + Arrays.toString(logits.shape()));
    }
    int n = logits.dim(0);
    int v = logits.dim(1);
    if (v < 1) {
      throw new IllegalArgumentException("logits has an empty class axis: V = " + v);
    }
    dlogits.requireSize("dlogits", (long) n * v);
    if (targetOffset < 0 || (long) targetOffset + n > targets.length) {
      throw new IllegalArgumentException(
          "targets has "
              + targets.length
              + " entries, need "
              + n
              + " from targetOffset "
              + targetOffset);
    }
    requireClasses(targets, targetOffset, n, v);
    DeviceKernels device = Ops.deviceKernels(dlogits, logits);
    if (device != null) {
      return device.crossEntropy(dlogits, logits, targets, targetOffset, lossScale);
    }
    float[] x = CpuBackend.data(logits);
    float[] dx = CpuBackend.data(dlogits);
    int xOff = CpuBackend.offset(logits);
    int dxOff = CpuBackend.offset(dlogits);
    double[] rowLoss = new double[n];
    // Rows are independent outputs; the per-row losses are summed below in row order.
    Parallel.forRange(
        n,
        Math.max(1, 16384 / v),
        (from, to) -> {
          for (int row = from; row < to; row++) {
            int xBase = xOff + row * v;
            int dxBase = dxOff + row * v;
            int target = targets[targetOffset + row];
            if (target == IGNORE_INDEX) {
              Arrays.fill(dx, dxBase, dxBase + v, 0f);
              continue;
            }
            float targetLogit = x[xBase + target];
            float max = FastMath.max(x, xBase, v);
            // dx = exp(x - max) (reads x[i] before writing dx[i], so dlogits may alias logits),
            // summed (in double over blocks summed in float); then dx *= lossScale / sum and
            // dx[target] -= lossScale.
            double sum = FastMath.expShiftSumDouble(x, xBase, max, dx, dxBase, v);
            double logSumExp = max + Math.log(sum);
            rowLoss[row] = logSumExp - targetLogit;
            FastMath.scale(dx, dxBase, (float) (lossScale / sum), v);
            dx[dxBase + target] -= lossScale;
          }
        });
    double loss = 0;
    for (double l : rowLoss) {
      loss += l;
    }
    return loss;
  }

  /** {@link #forwardBackward(Tensor, Tensor, int[], int, float)} with targets from index 0. */
  public static double forwardBackward(
      Tensor dlogits, Tensor logits, int[] targets, float lossScale) {
    return forwardBackward(dlogits, logits, targets, 0, lossScale);
  }

  /**
   * Fails, naming the first offender, unless each of {@code targets[offset, offset + n)} is a class
   * in {@code [0, v)} or {@link #IGNORE_INDEX}.
   */
  static void requireClasses(int[] targets, int offset, int n, int v) {
    for (int i = offset; i < offset + n; i++) {
      int target = targets[i];
      if (target != IGNORE_INDEX && (target < 0 || target >= v)) {
        throw new IllegalArgumentException(
            "targets["
                + i
                + "] = "
                + target
                + " is outside [0, "
                + v
                + ") and is not the ignore index "
                + IGNORE_INDEX);
      }
    }
  }

  /** Number of targets that are not {@link #IGNORE_INDEX}: the denominator of the mean loss. */
  public static long countValid(int[] targets) {
    long count = 0;
    for (int target : targets) {
      if (target != IGNORE_INDEX) {
        count++;
      }
    }
    return count;
  }
}
