package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import java.util.Arrays;

/**
 * Rotary position embedding in the Qwen2 / Hugging Face {@code rotate_half} convention: the head
 * dimension D is split into two halves (not interleaved pairs), and element {@code i < D/2} is
 * rotated with element {@code i + D/2} by the angle {@code position * theta^(-2i/D)}:
 *
 * <pre>{@code
 * out[i]       = x[i] * cos - x[i + D/2] * sin
 * out[i + D/2] = x[i + D/2] * cos + x[i] * sin
 * }</pre>
 *
 * Every token carries its own position (an {@code int[]} of host data with an offset), so packed
 * sequences restart their positions per document. Angles are computed as Hugging Face computes
 * them, in fp32: {@code inv_freq = 1 / theta^(2i/D)}, {@code angle = position * inv_freq}. Backward
 * is the inverse rotation of the output gradient. {@code out} may be {@code inp} (in place).
 *
 * <p>PyTorch: {@code x * cos + rotate_half(x) * sin} with {@code cos = cat(freqs, freqs).cos()}, as
 * in {@code transformers.models.qwen2.modeling_qwen2.apply_rotary_pos_emb}.
 */
public final class Rope {
  private Rope() {}

  /** Precomputed cos/sin for positions {@code [0, maxPositions)}: [maxPositions, D/2] each. */
  public static final class Table {
    private final int headDim;
    private final int maxPositions;
    private final float[] cos;
    private final float[] sin;

    /**
     * @param headDim D, even
     * @param theta the RoPE base (Qwen2: 1,000,000)
     * @param maxPositions positions the table covers, {@code [0, maxPositions)}
     */
    public Table(int headDim, double theta, int maxPositions) {
      if (headDim <= 0 || headDim % 2 != 0) {
        throw new IllegalArgumentException("headDim must be positive and even, got " + headDim);
      }
      if (!(theta > 0)) {
        throw new IllegalArgumentException("theta must be positive, got " + theta);
      }
      if (maxPositions < 0) {
        throw new IllegalArgumentException("maxPositions must be >= 0, got " + maxPositions);
      }
      this.headDim = headDim;
      this.maxPositions = maxPositions;
      int half = headDim / 2;
      float[] invFreq = new float[half];
      for (int i = 0; i < half; i++) {
        float exponent = (float) (2 * i) / (float) headDim;
        invFreq[i] = 1f / (float) Math.pow(theta, exponent);
      }
      cos = new float[maxPositions * half];
      sin = new float[maxPositions * half];
      for (int p = 0; p < maxPositions; p++) {
        for (int i = 0; i < half; i++) {
          float angle = (float) p * invFreq[i];
          cos[p * half + i] = (float) Math.cos(angle);
          sin[p * half + i] = (float) Math.sin(angle);
        }
      }
    }

    public int headDim() {
      return headDim;
    }

    public int maxPositions() {
      return maxPositions;
    }

    /** A copy of the cosines, [maxPositions, D/2] row-major (for device backends). */
    public float[] cosines() {
      return cos.clone();
    }

    /** A copy of the sines, [maxPositions, D/2] row-major. */
    public float[] sines() {
      return sin.clone();
    }
  }

  /**
   * Rotates with angles computed for this call (convenience; reuse a {@link Table} in a model).
   *
   * @param out [T, H, D] rotated output (may be {@code inp})
   * @param inp [T, H, D]
   * @param positions position of each token, {@code T} of them from {@code positionsOffset}
   * @param positionsOffset index of the first position in {@code positions}
   * @param theta the RoPE base
   */
  public static void forward(
      Tensor out, Tensor inp, int[] positions, int positionsOffset, double theta) {
    forward(out, inp, positions, positionsOffset, tableFor(inp, positions, positionsOffset, theta));
  }

  /**
   * @param out [T, H, D] rotated output (may be {@code inp})
   * @param inp [T, H, D]
   * @param positions position of each token, {@code T} of them from {@code positionsOffset}, each
   *     in {@code [0, table.maxPositions())}
   * @param positionsOffset index of the first position in {@code positions}
   * @param table cos/sin for head dimension D
   */
  public static void forward(
      Tensor out, Tensor inp, int[] positions, int positionsOffset, Table table) {
    rotate(out, inp, positions, positionsOffset, table, false, false, "out", "inp");
  }

  /**
   * Accumulates {@code dinp += R^T dout}, the inverse rotation of the output gradient.
   *
   * @param dinp [T, H, D] gradient of the input (accumulated; must not be {@code dout})
   * @param dout [T, H, D] gradient of the output
   * @param positions the positions given to forward
   * @param positionsOffset index of the first position in {@code positions}
   * @param table the table given to forward
   */
  public static void backward(
      Tensor dinp, Tensor dout, int[] positions, int positionsOffset, Table table) {
    backward(dinp, dout, positions, positionsOffset, table, true);
  }

  /**
   * As {@link #backward(Tensor, Tensor, int[], int, Table)}, with {@code accumulate} false writing
   * {@code dinp = R^T dout} over whatever {@code dinp} held (NaN included).
   */
  public static void backward(
      Tensor dinp,
      Tensor dout,
      int[] positions,
      int positionsOffset,
      Table table,
      boolean accumulate) {
    rotate(dinp, dout, positions, positionsOffset, table, true, accumulate, "dinp", "dout");
  }

  /** Backward with angles computed for this call; {@code theta} as given to forward. */
  public static void backward(
      Tensor dinp, Tensor dout, int[] positions, int positionsOffset, double theta) {
    backward(
        dinp, dout, positions, positionsOffset, tableFor(dout, positions, positionsOffset, theta));
  }

  private static Table tableFor(Tensor inp, int[] positions, int offset, double theta) {
    if (inp.rank() != 3) {
      throw new IllegalArgumentException(
          "inp/dout must be [T, H, D], got " + Arrays.toString(inp.shape()));
    }
    int t = inp.dim(0);
    requirePositions(positions, offset, t, Integer.MAX_VALUE);
    int max = 0;
    for (int i = offset; i < offset + t; i++) {
      max = Math.max(max, positions[i] + 1);
    }
    return new Table(inp.dim(2), theta, max);
  }

  private static void rotate(
      Tensor target,
      Tensor source,
      int[] positions,
      int positionsOffset,
      Table table,
      boolean inverse,
      boolean accumulate,
      String targetName,
      String sourceName) {
    if (source.rank() != 3 || source.dim(2) != table.headDim) {
      throw new IllegalArgumentException(
          sourceName
              + " must be [T, H, "
              + table.headDim
              + "], got "
              + Arrays.toString(source.shape()));
    }
    int t = source.dim(0);
    int h = source.dim(1);
    int d = table.headDim;
    target.requireShape(targetName, t, h, d);
    requirePositions(positions, positionsOffset, t, table.maxPositions);
    DeviceKernels device = Ops.deviceKernels(target, source);
    if (device != null) {
      device.rope(target, source, positions, positionsOffset, table, inverse, accumulate);
      return;
    }
    float[] y = CpuBackend.data(target);
    float[] x = CpuBackend.data(source);
    int yOff = CpuBackend.offset(target);
    int xOff = CpuBackend.offset(source);
    int half = d / 2;
    float[] cos = table.cos;
    float[] sin = table.sin;
    Parallel.forRange(
        t,
        Math.max(1, 16384 / Math.max(1, h * d)),
        (from, to) -> {
          for (int token = from; token < to; token++) {
            int angles = positions[positionsOffset + token] * half;
            for (int head = 0; head < h; head++) {
              int base = (token * h + head) * d;
              for (int i = 0; i < half; i++) {
                float c = cos[angles + i];
                float s = sin[angles + i];
                float x1 = x[xOff + base + i];
                float x2 = x[xOff + base + half + i];
                if (inverse) {
                  // Written gradients are added to zeros, as into a zero-filled buffer.
                  float y1 = accumulate ? y[yOff + base + i] : 0f;
                  float y2 = accumulate ? y[yOff + base + half + i] : 0f;
                  y[yOff + base + i] = y1 + (x1 * c + x2 * s);
                  y[yOff + base + half + i] = y2 + (x2 * c - x1 * s);
                } else {
                  y[yOff + base + i] = x1 * c - x2 * s;
                  y[yOff + base + half + i] = x2 * c + x1 * s;
                }
              }
            }
          }
        });
  }

  private static void requirePositions(int[] positions, int offset, int count, int limit) {
    if (positions == null) {
      throw new IllegalArgumentException("positions must not be null");
    }
    if (offset < 0 || offset + count > positions.length) {
      throw new IllegalArgumentException(
          "positions has "
              + positions.length
              + " entries, need "
              + count
              + " starting at positionsOffset "
              + offset);
    }
    for (int i = offset; i < offset + count; i++) {
      if (positions[i] < 0 || positions[i] >= limit) {
        throw new IllegalArgumentException(
            "positions["
                + i
                + "] = "
                + positions[i]
                + " is outside the table's positions [0, "
                + limit
                + ")");
      }
    }
  }
}
