package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;

/**
 * Multiplication by a constant: {@code out = inp * s}, element-wise on any shape. {@code out} may
 * be {@code inp}.
 *
 * <p>PyTorch: {@code x * s}.
 */
public final class Scale {
  private static final int GRAIN = 16384;

  private Scale() {}

  /**
   * @param out [N]
   * @param inp [N]
   * @param s the constant
   */
  public static void forward(Tensor out, Tensor inp, float s) {
    int n = inp.intSize();
    out.requireSize("out", n);
    DeviceKernels device = Ops.deviceKernels(out, inp);
    if (device != null) {
      device.scale(out, inp, s);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] x = CpuBackend.data(inp);
    int oOff = CpuBackend.offset(out);
    int xOff = CpuBackend.offset(inp);
    Parallel.forRange(
        n,
        GRAIN,
        (from, to) -> {
          for (int i = from; i < to; i++) {
            o[oOff + i] = x[xOff + i] * s;
          }
        });
  }

  /**
   * Accumulates {@code dinp += dout * s}.
   *
   * @param dinp [N] gradient of the input (accumulated)
   * @param dout [N] gradient of the output
   * @param s the constant given to forward
   */
  public static void backward(Tensor dinp, Tensor dout, float s) {
    Add.accumulate(dinp, dout, s);
  }
}
