package dev.tessera.engine.ops;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;

/**
 * Token embedding: {@code out[t] = table[ids[t]]}. Ids are host data (the data loader produces
 * them), so they are passed as an {@code int[]} with an offset rather than as a tensor; every id is
 * checked against the table before any work starts. Backward scatter-adds rows of the output
 * gradient into the table gradient; the work is split over the embedding dimension, so each table
 * column has one owner and repeated ids are summed in token order whatever the thread count.
 *
 * <p>PyTorch: {@code torch.embedding(table, ids)} ({@code nn.Embedding}).
 */
public final class Embedding {
  private Embedding() {}

  /**
   * @param out [T, C] gathered rows
   * @param table [V, C] embedding table
   * @param ids token ids, {@code T} of them starting at {@code idsOffset}, each in {@code [0, V)}
   * @param idsOffset index of the first id in {@code ids}
   */
  public static void forward(Tensor out, Tensor table, int[] ids, int idsOffset) {
    int v = table.dim(0);
    int c = requireTable(table);
    int t = rows(out, c);
    requireIds(ids, idsOffset, t, v);
    DeviceKernels device = Ops.deviceKernels(out, table);
    if (device != null) {
      device.embeddingForward(out, table, ids, idsOffset);
      return;
    }
    float[] o = CpuBackend.data(out);
    float[] w = CpuBackend.data(table);
    int oOff = CpuBackend.offset(out);
    int wOff = CpuBackend.offset(table);
    Parallel.forRange(
        t,
        Math.max(1, 16384 / Math.max(1, c)),
        (from, to) -> {
          for (int row = from; row < to; row++) {
            System.arraycopy(w, wOff + ids[idsOffset + row] * c, o, oOff + row * c, c);
          }
        });
  }

  /**
   * Accumulates {@code dtable[ids[t]] += dout[t]} for every token {@code t}.
   *
   * @param dtable [V, C] gradient of the table (accumulated)
   * @param dout [T, C] gradient of the output
   * @param ids the ids given to forward
   * @param idsOffset index of the first id in {@code ids}
   */
  public static void backward(Tensor dtable, Tensor dout, int[] ids, int idsOffset) {
    int v = dtable.dim(0);
    int c = requireTable(dtable);
    int t = rows(dout, c);
    requireIds(ids, idsOffset, t, v);
    DeviceKernels device = Ops.deviceKernels(dtable, dout);
    if (device != null) {
      device.embeddingBackward(dtable, dout, ids, idsOffset);
      return;
    }
    float[] dw = CpuBackend.data(dtable);
    float[] dy = CpuBackend.data(dout);
    int dwOff = CpuBackend.offset(dtable);
    int dyOff = CpuBackend.offset(dout);
    // Split over columns: every (id, column) sum has one owner and runs in token order.
    Parallel.forRange(
        c,
        64,
        (from, to) -> {
          for (int row = 0; row < t; row++) {
            int target = dwOff + ids[idsOffset + row] * c;
            int source = dyOff + row * c;
            for (int j = from; j < to; j++) {
              dw[target + j] += dy[source + j];
            }
          }
        });
  }

  private static int requireTable(Tensor table) {
    if (table.rank() != 2) {
      throw new IllegalArgumentException(
          "table must be [V, C], got " + java.util.Arrays.toString(table.shape()));
    }
    return table.dim(1);
  }

  private static int rows(Tensor rows, int c) {
    if (rows.rank() != 2 || rows.dim(1) != c) {
      throw new IllegalArgumentException(
          "out/dout must be [T, " + c + "], got " + java.util.Arrays.toString(rows.shape()));
    }
    return rows.dim(0);
  }

  private static void requireIds(int[] ids, int offset, int count, int vocab) {
    if (ids == null) {
      throw new IllegalArgumentException("ids must not be null");
    }
    if (offset < 0 || offset + count > ids.length) {
      throw new IllegalArgumentException(
          "ids has " + ids.length + " entries, need " + count + " starting at idsOffset " + offset);
    }
    for (int i = offset; i < offset + count; i++) {
      if (ids[i] < 0 || ids[i] >= vocab) {
        throw new IllegalArgumentException(
            "ids[" + i + "] = " + ids[i] + " is out of range for a table of " + vocab + " rows");
      }
    }
  }
}
