package dev.tessera.engine.dist;

import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;

/**
 * Collective operations among the ranks of a data-parallel job, as the trainer needs them. Every
 * rank calls the same operations in the same order; each call returns on a rank once every rank has
 * made it. Results are the same on every rank and do not depend on timing: sums are taken in rank
 * order.
 *
 * <p>Implementations: {@link InProcessCollective} (ranks as threads of one process), {@link
 * TcpCollective} (processes), and NCCL between GPUs ({@code cuda.NcclCollective}). The tensor
 * operations work on tensors of any backend: here they go through host arrays (a device tensor is
 * copied to the host and back); NCCL keeps them on the devices.
 */
public interface Collective extends AutoCloseable {
  /** This rank, 0-based. */
  int rank();

  /** Ranks in the job. */
  int size();

  /** Replaces {@code data[offset, offset + length)} on every rank by its sum over the ranks. */
  void allReduceSum(float[] data, int offset, int length);

  /**
   * Replaces {@code data[offset, offset + length)} on rank {@code root} by its sum over the ranks
   * (in rank order); on the other ranks the range is left as it was.
   */
  void reduceSum(float[] data, int offset, int length, int root);

  /** The sum of {@code value} over the ranks. */
  long allReduceSum(long value);

  /** The sum of {@code value} over the ranks, added in rank order. */
  double allReduceSum(double value);

  /** Copies {@code data[offset, offset + length)} of rank {@code root} to every rank. */
  void broadcast(float[] data, int offset, int length, int root);

  /** Returns once every rank has called it. */
  void barrier();

  /** {@link #allReduceSum(float[], int, int)} of a whole tensor, on any backend. */
  default void allReduceSum(Tensor tensor) {
    if (size() > 1) {
      onHost(tensor, true, this::allReduceSum);
    }
  }

  /**
   * {@link #reduceSum(float[], int, int, int)} of a whole tensor: the sum lands on {@code root}.
   */
  default void reduceSum(Tensor tensor, int root) {
    if (size() > 1) {
      onHost(
          tensor, rank() == root, (data, offset, length) -> reduceSum(data, offset, length, root));
    }
  }

  /** {@link #broadcast(float[], int, int, int)} of a whole tensor from {@code root}. */
  default void broadcast(Tensor tensor, int root) {
    if (size() > 1) {
      onHost(
          tensor, rank() != root, (data, offset, length) -> broadcast(data, offset, length, root));
    }
  }

  /**
   * Reduce-scatter: {@code out} (N / size elements) receives this rank's chunk of the sum over the
   * ranks of {@code in} (N elements, N a multiple of the rank count): rank r gets elements {@code
   * [r * N / size, (r + 1) * N / size)}. {@code in} is left as it was.
   */
  default void reduceScatterSum(Tensor in, Tensor out) {
    int chunk = requireChunks(in, out, "in", "out");
    float[] sum = in.backend().toHost(in);
    allReduceSum(sum, 0, sum.length);
    out.backend()
        .copyFromHost(java.util.Arrays.copyOfRange(sum, rank() * chunk, (rank() + 1) * chunk), out);
  }

  /**
   * All-gather: {@code out} (size × N elements) receives every rank's {@code in} (N elements), rank
   * r's at {@code [r * N, (r + 1) * N)}.
   */
  default void allGather(Tensor in, Tensor out) {
    int chunk = requireChunks(out, in, "out", "in");
    float[] all = new float[chunk * size()];
    float[] mine = in.backend().toHost(in);
    System.arraycopy(mine, 0, all, rank() * chunk, chunk);
    for (int r = 0; r < size(); r++) {
      broadcast(all, r * chunk, chunk, r);
    }
    out.backend().copyFromHost(all, out);
  }

  /** The size of one rank's chunk of {@code whole}; refuses sizes that do not divide. */
  private int requireChunks(Tensor whole, Tensor chunk, String wholeName, String chunkName) {
    if (whole.size() != chunk.size() * size()) {
      throw new IllegalArgumentException(
          wholeName
              + " has "
              + whole.size()
              + " elements, expected "
              + size()
              + " ranks x "
              + chunkName
              + "'s "
              + chunk.size());
    }
    return chunk.intSize();
  }

  /** A collective's in-place operation on a range of a host array. */
  interface HostRange {
    void apply(float[] data, int offset, int length);
  }

  /**
   * Runs {@code op} on a tensor's values: in place for CPU tensors, through a host copy for device
   * tensors (written back only where {@code changes} says this rank's values change).
   */
  private static void onHost(Tensor tensor, boolean changes, HostRange op) {
    if (tensor.device() == Device.CPU) {
      op.apply(CpuBackend.data(tensor), CpuBackend.offset(tensor), tensor.intSize());
      return;
    }
    float[] values = tensor.backend().toHost(tensor);
    op.apply(values, 0, values.length);
    if (changes) {
      tensor.backend().copyFromHost(values, tensor);
    }
  }

  @Override
  void close();
}
