package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.cpu.Vec;

/**
 * RMSNorm (Qwen2): {@code out = x / sqrt(mean(x^2) + eps) * weight} over the last axis of size C.
 * Forward saves the reciprocal RMS per row; backward uses it instead of recomputing the norm.
 *
 * <p>PyTorch: {@code torch.rms_norm(x, [C], weight, eps)}.
 */
public final class RmsNorm {
  private RmsNorm() {}

  /**
   * @param out [N, C] normalised output
   * @param rstd [N] saved 1 / rms per row, for backward
   * @param inp [N, C]
   * @param weight [C]
   */
  public static void forward(Tensor out, Tensor rstd, Tensor inp, Tensor weight, float eps) {
    int c = weight.intSize();
    int n = inp.intSize() / c;
    out.requireSize("out", (long) n * c);
    rstd.requireSize("rstd", n);
    DeviceKernels device = Ops.deviceKernels(out, rstd, inp, weight);
    if (device != null) {
      device.rmsNormForward(out, rstd, inp, weight, eps);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] r = CpuBackend.data(rstd);
    float[] x = CpuBackend.data(inp);
    float[] w = CpuBackend.data(weight);
    int oOff = CpuBackend.offset(out);
    int rOff = CpuBackend.offset(rstd);
    int xOff = CpuBackend.offset(inp);
    int wOff = CpuBackend.offset(weight);
    Parallel.forRange(
        n,
        Math.max(1, 16384 / c),
        (from, to) -> {
          for (int row = from; row < to; row++) {
            int base = row * c;
            float meanSquare = Vec.dot(x, xOff + base, x, xOff + base, c) / c;
            float s = (float) (1.0 / Math.sqrt(meanSquare + eps));
            r[rOff + row] = s;
            Vec.mul(x, xOff + base, w, wOff, s, o, oOff + base, c);
          }
        });
  }

  /**
   * Accumulates gradients: {@code dinp += d/dx}, {@code dweight += sum over rows of dout * x *
   * rstd}.
   *
   * @param dinp [N, C] gradient of the input (accumulated)
   * @param dweight [C] gradient of the weight (accumulated)
   * @param dout [N, C] gradient of the output
   * @param inp [N, C] the forward input
   * @param weight [C]
   * @param rstd [N] saved by forward
   */
  public static void backward(
      Tensor dinp, Tensor dweight, Tensor dout, Tensor inp, Tensor weight, Tensor rstd) {
    int c = weight.intSize();
    int n = inp.intSize() / c;
    dinp.requireSize("dinp", (long) n * c);
    dout.requireSize("dout", (long) n * c);
    dweight.requireSize("dweight", c);
    rstd.requireSize("rstd", n);
    DeviceKernels device = Ops.deviceKernels(dinp, dweight, dout, inp, weight, rstd);
    if (device != null) {
      device.rmsNormBackward(dinp, dweight, dout, inp, weight, rstd);
      return;
    }
    float[] dx = CpuBackend.data(dinp);
    float[] dw = CpuBackend.data(dweight);
    float[] dy = CpuBackend.data(dout);
    float[] x = CpuBackend.data(inp);
    float[] w = CpuBackend.data(weight);
    float[] r = CpuBackend.data(rstd);
    int dxOff = CpuBackend.offset(dinp);
    int dwOff = CpuBackend.offset(dweight);
    int dyOff = CpuBackend.offset(dout);
    int xOff = CpuBackend.offset(inp);
    int wOff = CpuBackend.offset(weight);
    int rOff = CpuBackend.offset(rstd);
    // dx = s * (w*dy) - x * s^3 * mean(x * w * dy): rows are independent. w*dy is formed once
    // per row, so both the mean and the update are vector operations.
    Parallel.forRange(
        n,
        Math.max(1, 8192 / c),
        (from, to) -> {
          float[] wdy = new float[c];
          for (int row = from; row < to; row++) {
            int base = row * c;
            float s = r[rOff + row];
            Vec.mul(dy, dyOff + base, w, wOff, 1f, wdy, 0, c);
            float k = Vec.dot(wdy, 0, x, xOff + base, c) * s * s * s / c;
            Vec.axpy(s, wdy, 0, dx, dxOff + base, c);
            Vec.axpy(-k, x, xOff + base, dx, dxOff + base, c);
          }
        });
    // dw[i] = sum over rows of dy * x * s: split over columns so each sum has one owner.
    Parallel.forRange(
        c,
        256,
        (from, to) -> {
          for (int row = 0; row < n; row++) {
            int base = row * c;
            float s = r[rOff + row];
            for (int i = from; i < to; i++) {
              dw[dwOff + i] += dy[dyOff + base + i] * x[xOff + base + i] * s;
            }
          }
        });
  }
}
