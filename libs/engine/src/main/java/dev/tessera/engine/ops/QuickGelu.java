package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.cpu.Parallel;

/**
 * QuickGELU, the activation of OpenAI's CLIP towers ({@code hidden_act "quick_gelu"}): {@code out =
 * x sigmoid(1.702 x)}, element-wise. It is neither GELU form: it differs from {@link GeluErf} by up
 * to about 2e-2, so a CLIP checkpoint computed with GELU would score visibly wrong.
 *
 * <p>PyTorch: {@code x * torch.sigmoid(1.702 * x)} (Hugging Face's {@code QuickGELUActivation}).
 */
public final class QuickGelu {
  /** The slope OpenAI's CLIP fixed for its sigmoid approximation of GELU. */
  public static final float SLOPE = 1.702f;

  private static final int GRAIN = 8192;

  private QuickGelu() {}

  /**
   * @param out [N] output, any shape with as many elements as {@code inp}; may be {@code inp}
   * @param inp [N]
   */
  public static void forward(Tensor out, Tensor inp) {
    int n = inp.intSize();
    out.requireSize("out", n);
    DeviceKernels device = Ops.deviceKernels(out, inp);
    if (device != null) {
      device.quickGeluForward(out, inp);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] x = CpuBackend.data(inp);
    int oOff = CpuBackend.offset(out);
    int xOff = CpuBackend.offset(inp);
    Parallel.forRange(
        n,
        GRAIN,
        (from, to) -> FastMath.quickGelu(x, xOff + from, o, oOff + from, to - from, SLOPE));
  }

  /**
   * Accumulates {@code dinp += dout * (s + 1.702 x s (1 - s))} with {@code s = sigmoid(1.702 x)}.
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
      device.quickGeluBackward(dinp, dout, inp);
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
            FastMath.quickGeluBackward(
                dx, dxOff + from, dy, dyOff + from, x, xOff + from, to - from, SLOPE));
  }
}
