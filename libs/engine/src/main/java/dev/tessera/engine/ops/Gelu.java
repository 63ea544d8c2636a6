package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;

/**
 * GELU, tanh approximation (SigLIP's {@code gelu_pytorch_tanh}, also the projector's activation):
 * {@code out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}, element-wise on a tensor of any
 * shape. {@code out} may be {@code inp}.
 *
 * <p>PyTorch: {@code torch.nn.functional.gelu(x, approximate="tanh")}.
 */
public final class Gelu {
  private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);
  private static final float CUBIC = 0.044715f;
  private static final int GRAIN = 8192;

  private Gelu() {}

  /**
   * @param out [N] output, any shape with as many elements as {@code inp}
   * @param inp [N]
   */
  public static void forward(Tensor out, Tensor inp) {
    int n = inp.intSize();
    out.requireSize("out", n);
    Ops.requireCpu(out, inp);
    float[] o = CpuBackend.data(out);
    float[] x = CpuBackend.data(inp);
    int oOff = CpuBackend.offset(out);
    int xOff = CpuBackend.offset(inp);
    Parallel.forRange(
        n,
        GRAIN,
        (from, to) -> {
          for (int i = from; i < to; i++) {
            float v = x[xOff + i];
            float t = (float) Math.tanh(SQRT_2_OVER_PI * (v + CUBIC * v * v * v));
            o[oOff + i] = 0.5f * v * (1 + t);
          }
        });
  }

  /**
   * Accumulates {@code dinp += dout * gelu'(inp)}.
   *
   * @param dinp [N] gradient of the input (accumulated)
   * @param dout [N] gradient of the output
   * @param inp [N] the forward input
   */
  public static void backward(Tensor dinp, Tensor dout, Tensor inp) {
    int n = inp.intSize();
    dinp.requireSize("dinp", n);
    dout.requireSize("dout", n);
    Ops.requireCpu(dinp, dout, inp);
    float[] dx = CpuBackend.data(dinp);
    float[] dy = CpuBackend.data(dout);
    float[] x = CpuBackend.data(inp);
    int dxOff = CpuBackend.offset(dinp);
    int dyOff = CpuBackend.offset(dout);
    int xOff = CpuBackend.offset(inp);
    Parallel.forRange(
        n,
        GRAIN,
        (from, to) -> {
          for (int i = from; i < to; i++) {
            float v = x[xOff + i];
            float t = (float) Math.tanh(SQRT_2_OVER_PI * (v + CUBIC * v * v * v));
            float dInner = SQRT_2_OVER_PI * (1 + 3 * CUBIC * v * v);
            float grad = 0.5f * (1 + t) + 0.5f * v * (1 - t * t) * dInner;
            dx[dxOff + i] += dy[dyOff + i] * grad;
          }
        });
  }
}
