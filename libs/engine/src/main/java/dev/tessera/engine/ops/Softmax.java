package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.cpu.Parallel;

/**
 * Softmax over the last axis, numerically stable (the row maximum is subtracted before {@code
 * exp}). Backward needs only the forward output: {@code dx = y * (dy - sum(dy * y))}.
 *
 * <p>PyTorch: {@code torch.softmax(x, -1)}.
 */
public final class Softmax {
  private Softmax() {}

  /**
   * @param out [N, C] probabilities (may be {@code inp})
   * @param inp [N, C] logits; C is the last dimension of {@code inp}
   */
  public static void forward(Tensor out, Tensor inp) {
    int c = lastDim(inp, "inp");
    int n = inp.intSize() / c;
    out.requireSize("out", (long) n * c);
    DeviceKernels device = Ops.deviceKernels(out, inp);
    if (device != null) {
      device.softmaxForward(out, inp);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] x = CpuBackend.data(inp);
    int oOff = CpuBackend.offset(out);
    int xOff = CpuBackend.offset(inp);
    Parallel.forRange(
        n,
        Math.max(1, 8192 / c),
        (from, to) -> {
          for (int row = from; row < to; row++) {
            int xb = xOff + row * c;
            int ob = oOff + row * c;
            float max = FastMath.max(x, xb, c);
            float sum = FastMath.expShiftSum(x, xb, max, o, ob, c);
            FastMath.scale(o, ob, 1 / sum, c);
          }
        });
  }

  /**
   * Accumulates {@code dinp += out * (dout - sum(dout * out))} per row.
   *
   * @param dinp [N, C] gradient of the logits (accumulated)
   * @param dout [N, C] gradient of the probabilities
   * @param out [N, C] the forward output
   */
  public static void backward(Tensor dinp, Tensor dout, Tensor out) {
    int c = lastDim(out, "out");
    int n = out.intSize() / c;
    dinp.requireSize("dinp", (long) n * c);
    dout.requireSize("dout", (long) n * c);
    DeviceKernels device = Ops.deviceKernels(dinp, dout, out);
    if (device != null) {
      device.softmaxBackward(dinp, dout, out);
      return;
    }
    float[] dx = CpuBackend.data(dinp);
    float[] dy = CpuBackend.data(dout);
    float[] y = CpuBackend.data(out);
    int dxOff = CpuBackend.offset(dinp);
    int dyOff = CpuBackend.offset(dout);
    int yOff = CpuBackend.offset(out);
    Parallel.forRange(
        n,
        Math.max(1, 8192 / c),
        (from, to) -> {
          for (int row = from; row < to; row++) {
            int base = row * c;
            float dot = 0;
            for (int i = 0; i < c; i++) {
              dot += dy[dyOff + base + i] * y[yOff + base + i];
            }
            for (int i = 0; i < c; i++) {
              dx[dxOff + base + i] += y[yOff + base + i] * (dy[dyOff + base + i] - dot);
            }
          }
        });
  }

  private static int lastDim(Tensor tensor, String name) {
    if (tensor.rank() == 0 || tensor.dim(-1) == 0) {
      throw new IllegalArgumentException(name + " must have a non-empty last axis");
    }
    return tensor.dim(-1);
  }
}
