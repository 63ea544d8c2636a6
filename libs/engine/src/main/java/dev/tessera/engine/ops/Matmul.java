package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Gemm;
import dev.tessera.engine.cpu.Parallel;

/**
 * The linear layer (llm.c's matmul): {@code out = inp @ weight^T + bias} over rows of size C, with
 * the weight stored [OC, C] as in PyTorch.
 *
 * <p>PyTorch: {@code torch.nn.functional.linear(inp, weight, bias)}.
 */
public final class Matmul {
  private Matmul() {}

  /**
   * @param out [N, OC] (overwritten)
   * @param inp [N, C]
   * @param weight [OC, C]
   * @param bias [OC], or null for none
   */
  public static void forward(Tensor out, Tensor inp, Tensor weight, Tensor bias) {
    int oc = weight.dim(0);
    int c = requireWeight(weight);
    int n = rows("inp", inp, c);
    out.requireSize("out", (long) n * oc);
    if (bias != null) {
      bias.requireSize("bias", oc);
    }
    DeviceKernels device = Ops.deviceKernels(out, inp, weight, bias);
    if (device != null) {
      device.matmulForward(out, inp, weight, bias);
      return;
    }
    float[] o = CpuBackend.data(out);
    int oOff = CpuBackend.offset(out);
    float beta = 0;
    if (bias != null) {
      float[] b = CpuBackend.data(bias);
      int bOff = CpuBackend.offset(bias);
      Parallel.forRange(
          n,
          Math.max(1, 16384 / Math.max(1, oc)),
          (from, to) -> {
            for (int row = from; row < to; row++) {
              System.arraycopy(b, bOff, o, oOff + row * oc, oc);
            }
          });
      beta = 1;
    }
    Gemm.sgemm(
        false,
        true,
        n,
        oc,
        c,
        1f,
        CpuBackend.data(inp),
        CpuBackend.offset(inp),
        c,
        CpuBackend.data(weight),
        CpuBackend.offset(weight),
        c,
        beta,
        o,
        oOff,
        oc);
  }

  /**
   * Accumulates gradients: {@code dinp += dout @ weight}, {@code dweight += dout^T @ inp}, {@code
   * dbias += dout summed over rows}. A null gradient is skipped (frozen weights, the first layer).
   *
   * @param dinp [N, C] gradient of the input (accumulated), or null
   * @param dweight [OC, C] gradient of the weight (accumulated), or null
   * @param dbias [OC] gradient of the bias (accumulated), or null
   * @param dout [N, OC] gradient of the output
   * @param inp [N, C] the forward input
   * @param weight [OC, C]
   */
  public static void backward(
      Tensor dinp, Tensor dweight, Tensor dbias, Tensor dout, Tensor inp, Tensor weight) {
    backward(dinp, dweight, dbias, dout, inp, weight, true);
  }

  /**
   * As {@link #backward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)}, with {@code
   * accumulateDinp} false writing {@code dinp = dout @ weight} over whatever {@code dinp} held (NaN
   * included): the first gradient into a fresh buffer needs no zero fill first.
   */
  public static void backward(
      Tensor dinp,
      Tensor dweight,
      Tensor dbias,
      Tensor dout,
      Tensor inp,
      Tensor weight,
      boolean accumulateDinp) {
    int oc = weight.dim(0);
    int c = requireWeight(weight);
    int n = rows("inp", inp, c);
    dout.requireSize("dout", (long) n * oc);
    if (dinp != null) {
      dinp.requireSize("dinp", (long) n * c);
    }
    if (dweight != null) {
      dweight.requireSize("dweight", (long) oc * c);
    }
    if (dbias != null) {
      dbias.requireSize("dbias", oc);
    }
    DeviceKernels device = Ops.deviceKernels(dout, inp, weight, dinp, dweight, dbias);
    if (device != null) {
      device.matmulBackward(dinp, dweight, dbias, dout, inp, weight, accumulateDinp);
      return;
    }
    float[] dy = CpuBackend.data(dout);
    int dyOff = CpuBackend.offset(dout);
    if (dinp != null) {
      Gemm.sgemm(
          false,
          false,
          n,
          c,
          oc,
          1f,
          dy,
          dyOff,
          oc,
          CpuBackend.data(weight),
          CpuBackend.offset(weight),
          c,
          accumulateDinp ? 1f : 0f,
          CpuBackend.data(dinp),
          CpuBackend.offset(dinp),
          c);
    }
    if (dweight != null) {
      Gemm.sgemm(
          true,
          false,
          oc,
          c,
          n,
          1f,
          dy,
          dyOff,
          oc,
          CpuBackend.data(inp),
          CpuBackend.offset(inp),
          c,
          1f,
          CpuBackend.data(dweight),
          CpuBackend.offset(dweight),
          c);
    }
    if (dbias != null) {
      float[] db = CpuBackend.data(dbias);
      int dbOff = CpuBackend.offset(dbias);
      // Split over output columns: each column's sum has one owner, rows added in order.
      Parallel.forRange(
          oc,
          256,
          (from, to) -> {
            for (int row = 0; row < n; row++) {
              int base = dyOff + row * oc;
              for (int j = from; j < to; j++) {
                db[dbOff + j] += dy[base + j];
              }
            }
          });
    }
  }

  private static int requireWeight(Tensor weight) {
    if (weight.rank() != 2) {
      throw new IllegalArgumentException(
          "weight must be [OC, C], got shape " + java.util.Arrays.toString(weight.shape()));
    }
    return weight.dim(1);
  }

  private static int rows(String name, Tensor inp, int c) {
    if (c == 0 || inp.size() % c != 0) {
      throw new IllegalArgumentException(
          name
              + " has shape "
              + java.util.Arrays.toString(inp.shape())
              + ", not rows of the weight's C = "
              + c);
    }
    return Math.toIntExact(inp.size() / c);
  }
}
