package dev.tessera.engine.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * Data-parallel loops for CPU kernels. Work is split over independent outputs only, never over a
 * reduction, so results are bit-identical whatever the thread count.
 */
public final class Parallel {
  private static volatile ForkJoinPool pool = newPool(defaultThreads());

  private Parallel() {}

  /** A loop body over the index range {@code [from, to)}. */
  @FunctionalInterface
  public interface Range {
    void run(int from, int to);
  }

  /** Threads used by kernels: {@code -Dtessera.threads}, else one per processor. */
  public static int threads() {
    return pool.getParallelism();
  }

  /** Sets the kernel thread count (benchmarks match it to the baseline's). */
  public static synchronized void setThreads(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    if (threads != pool.getParallelism()) {
      ForkJoinPool old = pool;
      pool = newPool(threads);
      old.shutdown();
    }
  }

  /**
   * Runs {@code body} over {@code [0, n)} in chunks of at least {@code grain} indices, on all
   * kernel threads; returns when every chunk is done.
   */
  public static void forRange(int n, int grain, Range body) {
    int threads = pool.getParallelism();
    if (n <= 0) {
      return;
    }
    int chunks = Math.min(Math.max(1, n / Math.max(1, grain)), threads * 4);
    if (chunks <= 1 || threads == 1) {
      body.run(0, n);
      return;
    }
    pool.invoke(new Split(body, 0, n, (n + chunks - 1) / chunks));
  }

  private static final class Split extends RecursiveAction {
    private static final long serialVersionUID = 1L;
    private final transient Range body;
    private final int from;
    private final int to;
    private final int chunk;

    Split(Range body, int from, int to, int chunk) {
      this.body = body;
      this.from = from;
      this.to = to;
      this.chunk = chunk;
    }

    @Override
    protected void compute() {
      if (to - from <= chunk) {
        body.run(from, to);
        return;
      }
      int middle = from + ((to - from) / 2 + chunk - 1) / chunk * chunk;
      invokeAll(new Split(body, from, middle, chunk), new Split(body, middle, to, chunk));
    }
  }

  private static int defaultThreads() {
    String configured = System.getProperty("tessera.threads");
    if (configured != null) {
      return Integer.parseInt(configured.trim());
    }
    return Runtime.getRuntime().availableProcessors();
  }

  private static ForkJoinPool newPool(int threads) {
    return new ForkJoinPool(threads);
  }
}
