package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;

/**
 * LayerNorm (SigLIP): {@code out = (x - mean) * rstd * weight + bias} over the last axis of size C,
 * with the biased variance ({@code rstd = 1 / sqrt(var + eps)}). Forward saves mean and rstd per
 * row for backward.
 *
 * <p>PyTorch: {@code torch.layer_norm(x, [C], weight, bias, eps)}.
 */
public final class LayerNorm {
  private LayerNorm() {}

  /**
   * @param out [N, C] normalised output
   * @param mean [N] saved row means, for backward
   * @param rstd [N] saved 1 / standard deviation per row, for backward
   * @param inp [N, C]
   * @param weight [C]
   * @param bias [C]
   */
  public static void forward(
      Tensor out, Tensor mean, Tensor rstd, Tensor inp, Tensor weight, Tensor bias, float eps) {
    int c = weight.intSize();
    if (c == 0) {
      throw new IllegalArgumentException("weight must not be empty");
    }
    bias.requireSize("bias", c);
    int n = inp.intSize() / c;
    inp.requireSize("inp", (long) n * c);
    out.requireSize("out", (long) n * c);
    mean.requireSize("mean", n);
    rstd.requireSize("rstd", n);
    DeviceKernels device = Ops.deviceKernels(out, mean, rstd, inp, weight, bias);
    if (device != null) {
      device.layerNormForward(out, mean, rstd, inp, weight, bias, eps);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] m = CpuBackend.data(mean);
    float[] r = CpuBackend.data(rstd);
    float[] x = CpuBackend.data(inp);
    float[] w = CpuBackend.data(weight);
    float[] b = CpuBackend.data(bias);
    int oOff = CpuBackend.offset(out);
    int mOff = CpuBackend.offset(mean);
    int rOff = CpuBackend.offset(rstd);
    int xOff = CpuBackend.offset(inp);
    int wOff = CpuBackend.offset(weight);
    int bOff = CpuBackend.offset(bias);
    Parallel.forRange(
        n,
        Math.max(1, 16384 / c),
        (from, to) -> {
          for (int row = from; row < to; row++) {
            int base = xOff + row * c;
            float sum = 0;
            for (int i = 0; i < c; i++) {
              sum += x[base + i];
            }
            float mu = sum / c;
            float squares = 0;
            for (int i = 0; i < c; i++) {
              float d = x[base + i] - mu;
              squares += d * d;
            }
            float s = (float) (1.0 / Math.sqrt(squares / c + eps));
            m[mOff + row] = mu;
            r[rOff + row] = s;
            int ob = oOff + row * c;
            for (int i = 0; i < c; i++) {
              o[ob + i] = (x[base + i] - mu) * s * w[wOff + i] + b[bOff + i];
            }
          }
        });
  }

  /**
   * Accumulates gradients into {@code dinp}, {@code dweight} and {@code dbias}.
   *
   * @param dinp [N, C] gradient of the input (accumulated)
   * @param dweight [C] gradient of the weight (accumulated)
   * @param dbias [C] gradient of the bias (accumulated)
   * @param dout [N, C] gradient of the output
   * @param inp [N, C] the forward input
   * @param weight [C]
   * @param mean [N] saved by forward
   * @param rstd [N] saved by forward
   */
  public static void backward(
      Tensor dinp,
      Tensor dweight,
      Tensor dbias,
      Tensor dout,
      Tensor inp,
      Tensor weight,
      Tensor mean,
      Tensor rstd) {
    int c = weight.intSize();
    if (c == 0) {
      throw new IllegalArgumentException("weight must not be empty");
    }
    int n = inp.intSize() / c;
    inp.requireSize("inp", (long) n * c);
    dinp.requireSize("dinp", (long) n * c);
    dout.requireSize("dout", (long) n * c);
    dweight.requireSize("dweight", c);
    dbias.requireSize("dbias", c);
    mean.requireSize("mean", n);
    rstd.requireSize("rstd", n);
    DeviceKernels device = Ops.deviceKernels(dinp, dweight, dbias, dout, inp, weight, mean, rstd);
    if (device != null) {
      device.layerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd);
      return;
    }
    float[] dx = CpuBackend.data(dinp);
    float[] dw = CpuBackend.data(dweight);
    float[] db = CpuBackend.data(dbias);
    float[] dy = CpuBackend.data(dout);
    float[] x = CpuBackend.data(inp);
    float[] w = CpuBackend.data(weight);
    float[] m = CpuBackend.data(mean);
    float[] r = CpuBackend.data(rstd);
    int dxOff = CpuBackend.offset(dinp);
    int dwOff = CpuBackend.offset(dweight);
    int dbOff = CpuBackend.offset(dbias);
    int dyOff = CpuBackend.offset(dout);
    int xOff = CpuBackend.offset(inp);
    int wOff = CpuBackend.offset(weight);
    int mOff = CpuBackend.offset(mean);
    int rOff = CpuBackend.offset(rstd);
    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = w * dy: rows are independent.
    Parallel.forRange(
        n,
        Math.max(1, 8192 / c),
        (from, to) -> {
          for (int row = from; row < to; row++) {
            int base = row * c;
            float mu = m[mOff + row];
            float s = r[rOff + row];
            float sumG = 0;
            float sumGx = 0;
            for (int i = 0; i < c; i++) {
              float g = w[wOff + i] * dy[dyOff + base + i];
              sumG += g;
              sumGx += g * (x[xOff + base + i] - mu) * s;
            }
            float meanG = sumG / c;
            float meanGx = sumGx / c;
            for (int i = 0; i < c; i++) {
              float g = w[wOff + i] * dy[dyOff + base + i];
              float xhat = (x[xOff + base + i] - mu) * s;
              dx[dxOff + base + i] += s * (g - meanG - xhat * meanGx);
            }
          }
        });
    // dweight and dbias are sums over rows: split over columns so each sum has one owner.
    Parallel.forRange(
        c,
        256,
        (from, to) -> {
          for (int row = 0; row < n; row++) {
            int base = row * c;
            float mu = m[mOff + row];
            float s = r[rOff + row];
            for (int i = from; i < to; i++) {
              float g = dy[dyOff + base + i];
              dw[dwOff + i] += g * (x[xOff + base + i] - mu) * s;
              db[dbOff + i] += g;
            }
          }
        });
  }
}
