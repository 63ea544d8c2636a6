package dev.tessera.curator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** The workers' thread pools: run tasks, results in task order, the first failure rethrown. */
public final class Tasks {
  private Tasks() {}

  /**
   * Runs {@code tasks} on {@code workers} daemon threads named {@code name}; the first failure
   * cancels the rest and is rethrown as it was (I/O errors as {@link IOException}).
   */
  public static <T> List<T> runAll(List<Callable<T>> tasks, int workers, String name)
      throws IOException {
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.max(1, workers),
            runnable -> {
              Thread thread = new Thread(runnable, name);
              thread.setDaemon(true);
              return thread;
            });
    try {
      List<Future<T>> futures = new ArrayList<>();
      for (Callable<T> task : tasks) {
        futures.add(pool.submit(task));
      }
      List<T> results = new ArrayList<>(futures.size());
      for (Future<T> future : futures) {
        try {
          results.add(future.get());
        } catch (ExecutionException e) {
          futures.forEach(other -> other.cancel(true));
          Throwable cause = e.getCause();
          if (cause instanceof IOException io) {
            throw io;
          }
          if (cause instanceof UncheckedIOException io) {
            throw io.getCause();
          }
          if (cause instanceof RuntimeException runtime) {
            throw runtime;
          }
          throw new IOException(cause);
        }
      }
      return results;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } finally {
      pool.shutdownNow();
    }
  }
}
