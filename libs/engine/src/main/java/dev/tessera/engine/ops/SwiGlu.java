package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.cpu.Parallel;

/**
 * SwiGLU (the Qwen2 MLP's gating): {@code out = silu(gate) * up} with {@code silu(g) = g *
 * sigmoid(g)}. Gate and up are two separate tensors of the same shape (the outputs of {@code
 * gate_proj} and {@code up_proj}, or two views of one buffer), element-wise.
 *
 * <p>PyTorch: {@code torch.nn.functional.silu(gate) * up}.
 */
public final class SwiGlu {
  private static final int GRAIN = 8192;

  private SwiGlu() {}

  /**
   * @param out [N, F]
   * @param gate [N, F]
   * @param up [N, F]
   */
  public static void forward(Tensor out, Tensor gate, Tensor up) {
    int n = gate.intSize();
    up.requireSize("up", n);
    out.requireSize("out", n);
    DeviceKernels device = Ops.deviceKernels(out, gate, up);
    if (device != null) {
      device.swiGluForward(out, gate, up);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] g = CpuBackend.data(gate);
    float[] u = CpuBackend.data(up);
    int oOff = CpuBackend.offset(out);
    int gOff = CpuBackend.offset(gate);
    int uOff = CpuBackend.offset(up);
    Parallel.forRange(
        n,
        GRAIN,
        (from, to) -> FastMath.siluMul(g, gOff + from, u, uOff + from, o, oOff + from, to - from));
  }

  /**
   * Accumulates {@code dgate += dout * up * silu'(gate)} and {@code dup += dout * silu(gate)}.
   *
   * @param dgate [N, F] gradient of the gate (accumulated)
   * @param dup [N, F] gradient of up (accumulated)
   * @param dout [N, F] gradient of the output
   * @param gate [N, F] the forward gate
   * @param up [N, F] the forward up
   */
  public static void backward(Tensor dgate, Tensor dup, Tensor dout, Tensor gate, Tensor up) {
    backward(dgate, dup, dout, gate, up, true);
  }

  /**
   * As {@link #backward(Tensor, Tensor, Tensor, Tensor, Tensor)}, with {@code accumulate} false
   * writing {@code dgate} and {@code dup} over whatever they held (NaN included).
   */
  public static void backward(
      Tensor dgate, Tensor dup, Tensor dout, Tensor gate, Tensor up, boolean accumulate) {
    int n = gate.intSize();
    up.requireSize("up", n);
    dout.requireSize("dout", n);
    dgate.requireSize("dgate", n);
    dup.requireSize("dup", n);
    DeviceKernels device = Ops.deviceKernels(dgate, dup, dout, gate, up);
    if (device != null) {
      device.swiGluBackward(dgate, dup, dout, gate, up, accumulate);
      return;
    }
    float[] dg = CpuBackend.data(dgate);
    float[] du = CpuBackend.data(dup);
    float[] dy = CpuBackend.data(dout);
    float[] g = CpuBackend.data(gate);
    float[] u = CpuBackend.data(up);
    int dgOff = CpuBackend.offset(dgate);
    int duOff = CpuBackend.offset(dup);
    int dyOff = CpuBackend.offset(dout);
    int gOff = CpuBackend.offset(gate);
    int uOff = CpuBackend.offset(up);
    Parallel.forRange(
        n,
        GRAIN,
        (from, to) ->
            FastMath.siluMulBackward(
                dg,
                dgOff + from,
                du,
                duOff + from,
                dy,
                dyOff + from,
                g,
                gOff + from,
                u,
                uOff + from,
                to - from,
                accumulate));
  }
}
