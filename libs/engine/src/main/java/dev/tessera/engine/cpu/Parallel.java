package dev.tessera.engine.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Data-parallel loops for CPU kernels. Work is split over independent outputs only, never over a
 * reduction, so results are bit-identical whatever the thread count.
 *
 * <p>The calling thread works too: it wakes {@code threads - 1} pool threads, then takes chunks of
 * the loop from a shared counter alongside them, and waits only for chunks they took. A loop too
 * small to outlast a pool thread's wake-up is then done by the caller alone, instead of the caller
 * sleeping until woken threads finish it (at two threads that cost a training step's small
 * operations more time than the second thread gave them).
 */
public final class Parallel {
  private static volatile ForkJoinPool pool = newPool(defaultThreads());

  /** Set while a caller takes its share of a loop: loops nested in that share run inline. */
  private static final ThreadLocal<Boolean> IN_LOOP = ThreadLocal.withInitial(() -> false);

  /** Spin-waits of a caller for the pool threads' last chunks before it parks. */
  private static final int SPINS = 1 << 10;

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
    ForkJoinPool current = pool;
    int threads = current.getParallelism();
    if (n <= 0) {
      return;
    }
    int chunks = Math.min(Math.max(1, n / Math.max(1, grain)), threads * 4);
    if (chunks <= 1 || threads == 1 || IN_LOOP.get()) {
      body.run(0, n);
      return;
    }
    int chunk = (n + chunks - 1) / chunks;
    if (Thread.currentThread() instanceof ForkJoinWorkerThread) {
      // Nested in a pool thread's chunk: split among the pool's threads.
      current.invoke(new Split(body, 0, n, chunk));
      return;
    }
    new SharedLoop(body, n, chunk).run(current, threads);
  }

  /**
   * Whether this thread is running a chunk of a kernel loop (a pool thread, or a caller taking its
   * share): code that keeps per-thread scratch buffers must not start a parallel loop from there.
   */
  public static boolean inKernelThread() {
    return Thread.currentThread() instanceof ForkJoinWorkerThread || IN_LOOP.get();
  }

  /** One loop's chunks, taken in turn by the caller and the pool threads it woke. */
  private static final class SharedLoop implements Runnable {
    private final Range body;
    private final int n;
    private final int chunk;
    private final int chunks;
    private final Thread caller = Thread.currentThread();
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger finished = new AtomicInteger();
    private volatile Throwable failure;

    SharedLoop(Range body, int n, int chunk) {
      this.body = body;
      this.n = n;
      this.chunk = chunk;
      this.chunks = (n + chunk - 1) / chunk;
    }

    void run(ForkJoinPool pool, int threads) {
      for (int helper = 1; helper < Math.min(threads, chunks); helper++) {
        pool.execute(this);
      }
      IN_LOOP.set(true);
      try {
        work();
      } finally {
        IN_LOOP.set(false);
      }
      for (int spin = 0; finished.get() < chunks; spin++) {
        if (spin < SPINS) {
          Thread.onSpinWait();
        } else {
          LockSupport.park(this);
        }
      }
      Throwable thrown = failure;
      if (thrown instanceof RuntimeException e) {
        throw e;
      }
      if (thrown instanceof Error e) {
        throw e;
      }
      if (thrown != null) {
        throw new IllegalStateException("a kernel loop failed", thrown);
      }
    }

    /** A pool thread's share; one woken after the last chunk was taken finds nothing to do. */
    @Override
    public void run() {
      work();
    }

    private void work() {
      for (int c = next.getAndIncrement(); c < chunks; c = next.getAndIncrement()) {
        int from = c * chunk;
        try {
          body.run(from, Math.min(n, from + chunk));
        } catch (Throwable t) {
          if (failure == null) {
            failure = t;
          }
        }
        if (finished.incrementAndGet() == chunks) {
          LockSupport.unpark(caller);
        }
      }
    }
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
