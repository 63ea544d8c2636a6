package dev.tessera.engine.dist;

/**
 * Collective operations among the ranks of a data-parallel job, as the trainer needs them. Every
 * rank calls the same operations in the same order; each call returns on a rank once every rank has
 * made it. Results are the same on every rank and do not depend on timing: sums are taken in rank
 * order.
 *
 * <p>Implementations: {@link InProcessCollective} (ranks as threads of one process); a TCP backend
 * between processes and NCCL between GPUs implement the same interface.
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

  @Override
  void close();
}
