package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.cpu.Parallel;

/**
 * GELU, tanh approximation (SigLIP's {@code gelu_pytorch_tanh}, also the projector's activation):
 * {@code out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}, element-wise on a tensor of any
 * shape. {@code out} may be {@code inp}.
 *
 * <p>PyTorch: {@code torch.nn.functional.gelu(x, approximate="tanh")}.
 */
public final class Gelu {
  private static final int GRAIN = 8192;

  private Gelu() {}

  /**
   * @param out [N] output, any shape with as many elements as {@code inp}
   * @param inp [N]
   */
  public static void forward(Tensor out, Tensor inp) {
    int n = inp.intSize();
    out.requireSize("out", n);
    DeviceKernels device = Ops.deviceKernels(out, inp);
    if (device != null) {
      device.geluForward(out, inp);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] x = CpuBackend.data(inp);
    int oOff = CpuBackend.offset(out);
    int xOff = CpuBackend.offset(inp);
    Parallel.forRange(
        n, GRAIN, (from, to) -> FastMath.gelu(x, xOff + from, o, oOff + from, to - from));
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
    DeviceKernels device = Ops.deviceKernels(dinp, dout, inp);
    if (device != null) {
      device.geluBackward(dinp, dout, inp);
      return;
    }
    float[] dx = CpuBackend.data(dinp);
    float[] dy = CpuBackend.data(dout);
    float[] x = CpuBackend.data(inp);
    int dxOff = CpuBackend.offset(dinp);
    int dyOff = CpuBackend.offset(dout);
    int xOff = CpuBackend.offset(inp);
    Parallel.forRange(
        n,
        GRAIN,
        (from, to) ->
            FastMath.geluBackward(dx, dxOff + from, dy, dyOff + from, x, xOff + from, to - from));
  }
}
