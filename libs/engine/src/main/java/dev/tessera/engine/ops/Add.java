package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.cpu.Vec;

/**
 * Element-wise addition for the residual stream: {@code out = a + b}, and {@code acc += x} (the
 * in-place residual add, also backward's gradient accumulation). Tensors of any shape with equal
 * element counts; {@code out} may be {@code a} or {@code b}.
 *
 * <p>PyTorch: {@code a + b}, {@code acc.add_(x)}.
 */
public final class Add {
  private static final int GRAIN = 16384;

  private Add() {}

  /**
   * @param out [N]
   * @param a [N]
   * @param b [N]
   */
  public static void forward(Tensor out, Tensor a, Tensor b) {
    int n = a.intSize();
    b.requireSize("b", n);
    out.requireSize("out", n);
    DeviceKernels device = Ops.deviceKernels(out, a, b);
    if (device != null) {
      device.add(out, a, b);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] x = CpuBackend.data(a);
    float[] y = CpuBackend.data(b);
    int oOff = CpuBackend.offset(out);
    int xOff = CpuBackend.offset(a);
    int yOff = CpuBackend.offset(b);
    Parallel.forRange(
        n,
        GRAIN,
        (from, to) -> {
          for (int i = from; i < to; i++) {
            o[oOff + i] = x[xOff + i] + y[yOff + i];
          }
        });
  }

  /**
   * Accumulates {@code da += dout} and {@code db += dout}.
   *
   * @param da [N] gradient of {@code a} (accumulated)
   * @param db [N] gradient of {@code b} (accumulated)
   * @param dout [N] gradient of the output
   */
  public static void backward(Tensor da, Tensor db, Tensor dout) {
    accumulate(da, dout);
    accumulate(db, dout);
  }

  /**
   * In place: {@code acc += x}.
   *
   * @param acc [N] accumulated into
   * @param x [N]
   */
  public static void accumulate(Tensor acc, Tensor x) {
    accumulate(acc, x, 1f);
  }

  /**
   * In place: {@code acc += alpha * x}.
   *
   * @param acc [N] accumulated into
   * @param x [N]
   */
  public static void accumulate(Tensor acc, Tensor x, float alpha) {
    int n = x.intSize();
    acc.requireSize("acc", n);
    DeviceKernels device = Ops.deviceKernels(acc, x);
    if (device != null) {
      device.accumulate(acc, x, alpha);
      return;
    }
    float[] y = CpuBackend.data(acc);
    float[] v = CpuBackend.data(x);
    int yOff = CpuBackend.offset(acc);
    int vOff = CpuBackend.offset(x);
    Parallel.forRange(
        n, GRAIN, (from, to) -> Vec.axpy(alpha, v, vOff + from, y, yOff + from, to - from));
  }
}
