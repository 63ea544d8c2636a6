package dev.tessera.engine.dist;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Ranks as threads of one process, sharing memory: each collective publishes every rank's buffer,
 * waits for all, and each rank computes its part of the result from the others' buffers in rank
 * order (so sums are the same bits whatever the scheduling). For tests and for several CPU ranks on
 * one machine; a rank that does not arrive within the timeout fails the others instead of hanging
 * them.
 */
public final class InProcessCollective implements Collective {
  private static final long TIMEOUT_SECONDS = 600;

  /** What the ranks of one group share. */
  private static final class Shared {
    final CyclicBarrier barrier;
    final float[][] arrays;
    final int[] offsets;
    final double[] doubles;
    final long[] longs;

    /** Set when a rank closes the group: a rank that arrives later must not wait for it. */
    volatile boolean closed;

    Shared(int size) {
      barrier = new CyclicBarrier(size);
      arrays = new float[size][];
      offsets = new int[size];
      doubles = new double[size];
      longs = new long[size];
    }
  }

  private final Shared shared;
  private final int rank;

  private InProcessCollective(Shared shared, int rank) {
    this.shared = shared;
    this.rank = rank;
  }

  /** A group of {@code size} ranks; element {@code r} is rank r's handle. */
  public static List<Collective> group(int size) {
    if (size < 1) {
      throw new IllegalArgumentException("a group needs at least one rank, got " + size);
    }
    Shared shared = new Shared(size);
    List<Collective> ranks = new ArrayList<>(size);
    for (int r = 0; r < size; r++) {
      ranks.add(new InProcessCollective(shared, r));
    }
    return ranks;
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int size() {
    return shared.arrays.length;
  }

  @Override
  public void allReduceSum(float[] data, int offset, int length) {
    int size = size();
    if (size == 1) {
      return;
    }
    shared.arrays[rank] = data;
    shared.offsets[rank] = offset;
    await();
    // Each rank sums its slice over all ranks, in rank order, into a private buffer ...
    int from = (int) ((long) length * rank / size);
    int to = (int) ((long) length * (rank + 1) / size);
    float[] sum = new float[to - from];
    for (int r = 0; r < size; r++) {
      float[] other = shared.arrays[r];
      int base = shared.offsets[r] + from;
      for (int i = 0; i < sum.length; i++) {
        sum[i] += other[base + i];
      }
    }
    await();
    // ... and, once every rank has read the inputs, writes it to every rank's buffer.
    for (int r = 0; r < size; r++) {
      System.arraycopy(sum, 0, shared.arrays[r], shared.offsets[r] + from, sum.length);
    }
    await();
  }

  @Override
  public void reduceSum(float[] data, int offset, int length, int root) {
    if (root < 0 || root >= size()) {
      throw new IllegalArgumentException("root " + root + " of " + size() + " ranks");
    }
    if (size() == 1) {
      return;
    }
    shared.arrays[rank] = data;
    shared.offsets[rank] = offset;
    await();
    float[] sum = null;
    if (rank == root) {
      sum = new float[length];
      for (int r = 0; r < size(); r++) {
        float[] other = shared.arrays[r];
        int base = shared.offsets[r];
        for (int i = 0; i < length; i++) {
          sum[i] += other[base + i];
        }
      }
    }
    // Every rank's input has been read before the root overwrites its own.
    await();
    if (sum != null) {
      System.arraycopy(sum, 0, data, offset, length);
    }
  }

  @Override
  public long allReduceSum(long value) {
    shared.longs[rank] = value;
    await();
    long sum = 0;
    for (long each : shared.longs) {
      sum += each;
    }
    await();
    return sum;
  }

  @Override
  public double allReduceSum(double value) {
    shared.doubles[rank] = value;
    await();
    double sum = 0;
    for (double each : shared.doubles) {
      sum += each;
    }
    await();
    return sum;
  }

  @Override
  public void broadcast(float[] data, int offset, int length, int root) {
    if (root < 0 || root >= size()) {
      throw new IllegalArgumentException("root " + root + " of " + size() + " ranks");
    }
    shared.arrays[rank] = data;
    shared.offsets[rank] = offset;
    await();
    if (rank != root) {
      System.arraycopy(shared.arrays[root], shared.offsets[root], data, offset, length);
    }
    await();
  }

  @Override
  public void barrier() {
    await();
  }

  private void await() {
    if (shared.closed) {
      throw new PeerLostException(
          "rank " + rank + ": another rank failed or left before this collective", null);
    }
    try {
      shared.barrier.await(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      shared.barrier.reset();
      throw new PeerLostException("rank " + rank + " interrupted in a collective", e);
    } catch (BrokenBarrierException e) {
      shared.barrier.reset();
      throw new PeerLostException("rank " + rank + ": another rank failed in a collective", e);
    } catch (TimeoutException e) {
      shared.barrier.reset();
      throw new PeerLostException(
          "rank "
              + rank
              + ": another rank did not arrive in a collective within "
              + TIMEOUT_SECONDS
              + " s",
          e);
    }
  }

  /**
   * Closes the group: ranks waiting in a collective fail at once, and so does any rank that calls
   * one later, instead of hanging. A rank closes after its last collective, which every rank has
   * then entered, so closing at the end fails nobody.
   */
  @Override
  public void close() {
    shared.closed = true;
    shared.barrier.reset();
  }
}
