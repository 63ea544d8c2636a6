package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import java.util.Arrays;

/**
 * Adaptive average pooling of a grid of patch tokens (the Open-Qwen2VL projector: SigLIP's 27x27
 * patches to 12x12 = 144 tokens). Tokens are channels-last, in row-major grid order: input {@code
 * [B, H*W, C]}, output {@code [B, outH*outW, C]}. Output row {@code i} averages input rows {@code
 * [floor(i*H/outH), ceil((i+1)*H/outH))}, likewise for columns, exactly as PyTorch bins them (bins
 * overlap when outH does not divide H, e.g. 27 to 12).
 *
 * <p>PyTorch: {@code adaptive_avg_pool2d(x.view(B, H, W, C).permute(0, 3, 1, 2), (outH, outW))
 * .permute(0, 2, 3, 1)}.
 */
public final class AdaptiveAvgPool2d {
  private AdaptiveAvgPool2d() {}

  /**
   * @param out [B, outHeight*outWidth, C]
   * @param inp [B, height*width, C]
   * @param height H, rows of the input grid
   * @param width W, columns of the input grid
   * @param outHeight rows of the output grid, {@code 1..H}
   * @param outWidth columns of the output grid, {@code 1..W}
   */
  public static void forward(
      Tensor out, Tensor inp, int height, int width, int outHeight, int outWidth) {
    int[] bc = check(out, inp, height, width, outHeight, outWidth, "out", "inp");
    int b = bc[0];
    int c = bc[1];
    DeviceKernels device = Ops.deviceKernels(out, inp);
    if (device != null) {
      device.avgPoolForward(out, inp, height, width, outHeight, outWidth);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] x = CpuBackend.data(inp);
    int oOff = CpuBackend.offset(out);
    int xOff = CpuBackend.offset(inp);
    int cells = outHeight * outWidth;
    // One task per output token: each owns its C outputs.
    Parallel.forRange(
        b * cells,
        Math.max(1, 4096 / c),
        (from, to) -> {
          for (int task = from; task < to; task++) {
            int batch = task / cells;
            int oi = (task % cells) / outWidth;
            int oj = task % outWidth;
            int h0 = start(oi, height, outHeight);
            int h1 = end(oi, height, outHeight);
            int w0 = start(oj, width, outWidth);
            int w1 = end(oj, width, outWidth);
            int ob = oOff + task * c;
            Arrays.fill(o, ob, ob + c, 0f);
            for (int r = h0; r < h1; r++) {
              for (int col = w0; col < w1; col++) {
                int xb = xOff + ((batch * height + r) * width + col) * c;
                for (int k = 0; k < c; k++) {
                  o[ob + k] += x[xb + k];
                }
              }
            }
            float scale = 1f / ((h1 - h0) * (w1 - w0));
            for (int k = 0; k < c; k++) {
              o[ob + k] *= scale;
            }
          }
        });
  }

  /**
   * Accumulates into {@code dinp} each output gradient divided by its bin's size, over every input
   * token of the bin.
   *
   * @param dinp [B, height*width, C] gradient of the input (accumulated)
   * @param dout [B, outHeight*outWidth, C] gradient of the output
   * @param height H, as given to forward
   * @param width W, as given to forward
   * @param outHeight as given to forward
   * @param outWidth as given to forward
   */
  public static void backward(
      Tensor dinp, Tensor dout, int height, int width, int outHeight, int outWidth) {
    int[] bc = check(dout, dinp, height, width, outHeight, outWidth, "dout", "dinp");
    int b = bc[0];
    int c = bc[1];
    DeviceKernels device = Ops.deviceKernels(dinp, dout);
    if (device != null) {
      device.avgPoolBackward(dinp, dout, height, width, outHeight, outWidth);
      return;
    }
    float[] dx = CpuBackend.data(dinp);
    float[] dy = CpuBackend.data(dout);
    int dxOff = CpuBackend.offset(dinp);
    int dyOff = CpuBackend.offset(dout);
    // One task per input grid row (batch, r): it owns that row's W*C gradients, and sums the
    // output bins covering it in a fixed order.
    Parallel.forRange(
        b * height,
        Math.max(1, 4096 / Math.max(1, width * c)),
        (from, to) -> {
          for (int task = from; task < to; task++) {
            int batch = task / height;
            int r = task % height;
            for (int oi = 0; oi < outHeight; oi++) {
              int h0 = start(oi, height, outHeight);
              int h1 = end(oi, height, outHeight);
              if (r < h0 || r >= h1) {
                continue;
              }
              for (int oj = 0; oj < outWidth; oj++) {
                int w0 = start(oj, width, outWidth);
                int w1 = end(oj, width, outWidth);
                float scale = 1f / ((h1 - h0) * (w1 - w0));
                int yb = dyOff + ((batch * outHeight + oi) * outWidth + oj) * c;
                for (int col = w0; col < w1; col++) {
                  int xb = dxOff + ((batch * height + r) * width + col) * c;
                  for (int k = 0; k < c; k++) {
                    dx[xb + k] += dy[yb + k] * scale;
                  }
                }
              }
            }
          }
        });
  }

  /** First input index of output bin {@code i}: {@code floor(i * in / out)}. */
  static int start(int i, int in, int out) {
    return (int) ((long) i * in / out);
  }

  /** One past the last input index of output bin {@code i}: {@code ceil((i + 1) * in / out)}. */
  static int end(int i, int in, int out) {
    return (int) (((long) (i + 1) * in + out - 1) / out);
  }

  private static int[] check(
      Tensor pooled,
      Tensor grid,
      int height,
      int width,
      int outHeight,
      int outWidth,
      String pooledName,
      String gridName) {
    if (height < 1 || width < 1) {
      throw new IllegalArgumentException(
          "height and width must be >= 1, got " + height + "x" + width);
    }
    if (outHeight < 1 || outHeight > height || outWidth < 1 || outWidth > width) {
      throw new IllegalArgumentException(
          "outHeight x outWidth must be within 1x1.."
              + height
              + "x"
              + width
              + ", got "
              + outHeight
              + "x"
              + outWidth);
    }
    if (grid.rank() != 3 || grid.dim(1) != height * width) {
      throw new IllegalArgumentException(
          gridName
              + " must be [B, "
              + height * width
              + ", C] for a "
              + height
              + "x"
              + width
              + " grid, got "
              + Arrays.toString(grid.shape()));
    }
    int b = grid.dim(0);
    int c = grid.dim(2);
    pooled.requireShape(pooledName, b, outHeight * outWidth, c);
    return new int[] {b, c};
  }
}
