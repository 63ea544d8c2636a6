package dev.tessera.trainer.pretrain;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;

/**
 * Checkpoint writes on a thread of their own, one at a time, so that training goes on while a
 * checkpoint is written and verified: the next step needs only the snapshot taken before. A write's
 * result (or failure) is handed back on the training thread, which alone reports it — a checkpoint
 * is announced only once it is complete on disk.
 *
 * <p>In the foreground (one rank per process writing to slow storage is not worth a thread, and it
 * is the baseline to measure against) each write runs at once on the caller's thread.
 *
 * @param <T> what a write returns
 */
final class BackgroundWrites<T> implements AutoCloseable {
  private final ExecutorService thread;
  private Future<T> pending;

  /**
   * @param background whether writes run on their own thread; else on the caller's
   */
  BackgroundWrites(boolean background) {
    this.thread =
        background
            ? Executors.newSingleThreadExecutor(
                runnable -> {
                  Thread writer = new Thread(runnable, "checkpoint-writer");
                  writer.setDaemon(true);
                  return writer;
                })
            : null;
  }

  /**
   * Starts {@code write} once the write before it is done; returns that earlier write's result, if
   * there was one still to be collected.
   *
   * @throws IOException the earlier write's failure
   */
  Optional<T> submit(Callable<T> write) throws IOException {
    Optional<T> earlier = await();
    if (thread == null) {
      FutureTask<T> now = new FutureTask<>(write);
      now.run();
      pending = now;
    } else {
      pending = thread.submit(write);
    }
    return earlier;
  }

  /**
   * The pending write's result if it has finished, without waiting.
   *
   * @throws IOException its failure
   */
  Optional<T> poll() throws IOException {
    return pending != null && pending.isDone() ? await() : Optional.empty();
  }

  /**
   * Waits for the pending write, if any, and returns its result.
   *
   * @throws IOException its failure
   */
  Optional<T> await() throws IOException {
    if (pending == null) {
      return Optional.empty();
    }
    Future<T> write = pending;
    pending = null;
    try {
      return Optional.of(write.get());
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw new IOException("writing a checkpoint failed: " + io.getMessage(), io);
      }
      if (cause instanceof UncheckedIOException io) {
        throw new IOException("writing a checkpoint failed: " + io.getMessage(), io);
      }
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IOException("writing a checkpoint failed: " + cause, cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while a checkpoint was written", e);
    }
  }

  /**
   * Lets a pending write finish (a half-written checkpoint would be wasted work) and stops the
   * thread. Its result is dropped: whoever needed it awaited it.
   */
  @Override
  public void close() {
    if (pending != null) {
      try {
        pending.get();
      } catch (ExecutionException e) {
        // Already failing or finished; the write's own failure was not asked for.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      pending = null;
    }
    if (thread != null) {
      thread.shutdown();
    }
  }
}
