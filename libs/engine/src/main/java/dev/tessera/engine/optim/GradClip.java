package dev.tessera.engine.optim;

import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.cpu.Parallel;
import java.util.List;

/**
 * Gradient clipping by global L2 norm, as {@code torch.nn.utils.clip_grad_norm_(params, maxNorm)}:
 * the norm of all gradients together, then every gradient scaled by {@code min(1, maxNorm / (norm +
 * 1e-6))}.
 *
 * <p>The norm is deterministic: each tensor is cut into fixed chunks of {@link #CHUNK} elements,
 * each chunk's sum of squares is accumulated in double (chunks in parallel, each with one owner),
 * and the chunk sums are added in tensor order, then chunk order. The result does not depend on the
 * thread count. Chunks start at each tensor's first element, so the norm of one flat gradient
 * buffer and that of its views may differ in the last bits; pass the same list every step.
 */
public final class GradClip {
  /** Elements per partial sum of squares. */
  public static final int CHUNK = 1 << 14;

  /** Added to the norm before dividing, as PyTorch does. */
  public static final double EPS = 1e-6;

  private GradClip() {}

  /**
   * The L2 norm of all elements of all {@code grads}, accumulated in double.
   *
   * @param grads gradient tensors of any shapes (any backend)
   */
  public static double globalNorm(List<Tensor> grads) {
    double sumSquares = 0;
    for (Tensor grad : grads) {
      if (grad.device() != Device.CPU) {
        sumSquares += grad.backend().kernels().sumSquares(grad);
        continue;
      }
      float[] g = CpuBackend.data(grad);
      int off = CpuBackend.offset(grad);
      int size = grad.intSize();
      int chunks = (size + CHUNK - 1) / CHUNK;
      double[] partial = new double[chunks];
      Parallel.forRange(
          chunks,
          1,
          (from, to) -> {
            for (int c = from; c < to; c++) {
              int start = c * CHUNK;
              int end = Math.min(size, start + CHUNK);
              partial[c] = FastMath.sumSquares(g, off + start, end - start);
            }
          });
      for (double p : partial) {
        sumSquares += p;
      }
    }
    return Math.sqrt(sumSquares);
  }

  /**
   * Scales {@code grads} in place so that their global norm is at most {@code maxNorm}. When the
   * norm is not finite (NaN or infinite gradients) the gradients are left as they are: the caller
   * sees the returned norm and should skip the step.
   *
   * @param grads gradient tensors (any backend), modified in place
   * @param maxNorm the largest allowed global norm, > 0
   * @return the global norm before clipping
   */
  /**
   * The factor that clips gradients of global norm {@code norm} to {@code maxNorm}: {@code maxNorm
   * / (norm + EPS)} when that is below 1, else 1 (also for a norm that is not finite, whose step is
   * skipped anyway). {@link #clip} multiplies by exactly this float.
   */
  public static float coefficient(double norm, double maxNorm) {
    if (!(maxNorm > 0)) {
      throw new IllegalArgumentException("maxNorm must be > 0, got " + maxNorm);
    }
    if (!Double.isFinite(norm)) {
      return 1f;
    }
    double coefficient = maxNorm / (norm + EPS);
    return coefficient < 1 ? (float) coefficient : 1f;
  }

  public static double clip(List<Tensor> grads, double maxNorm) {
    if (!(maxNorm > 0)) {
      throw new IllegalArgumentException("maxNorm must be > 0, got " + maxNorm);
    }
    double norm = globalNorm(grads);
    float coefficient = coefficient(norm, maxNorm);
    if (coefficient < 1) {
      scale(grads, coefficient);
    }
    return norm;
  }

  /** Multiplies every element of {@code grads} by {@code factor}. */
  public static void scale(List<Tensor> grads, float factor) {
    for (Tensor grad : grads) {
      if (grad.device() != Device.CPU) {
        grad.backend().kernels().scale(grad, grad, factor);
        continue;
      }
      float[] g = CpuBackend.data(grad);
      int off = CpuBackend.offset(grad);
      Parallel.forRange(
          grad.intSize(), CHUNK, (from, to) -> FastMath.scale(g, off + from, factor, to - from));
    }
  }
}
