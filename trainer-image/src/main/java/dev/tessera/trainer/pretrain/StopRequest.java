package dev.tessera.trainer.pretrain;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A request to stop training early and keep what it has done. Kubernetes sends SIGTERM to a pod it
 * is about to preempt, evict or delete, and SIGKILL a grace period later; a user presses Ctrl-C.
 * Either starts the JVM's shutdown. A shutdown hook then marks the request and holds the shutdown
 * until the training loop has finished its step, written a checkpoint there and returned — so the
 * next attempt resumes at that step, not at the last regular checkpoint — or until {@link #HOLD}
 * has passed.
 */
final class StopRequest implements AutoCloseable {
  /**
   * The longest the shutdown is held for the checkpoint (the pod's grace period is the real bound).
   */
  static final Duration HOLD = Duration.ofMinutes(10);

  private final AtomicBoolean requested = new AtomicBoolean();
  private final CountDownLatch released = new CountDownLatch(1);
  private final Thread hook;

  private StopRequest(PrintWriter log, boolean watch) {
    if (!watch) {
      hook = null;
      return;
    }
    hook =
        new Thread(
            () -> {
              requested.set(true);
              log.println("asked to stop: finishing this step and writing a checkpoint at it");
              log.flush();
              try {
                released.await(HOLD.toSeconds(), TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "tessera-stop");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** Watches for the JVM's shutdown from now until {@link #close}. */
  static StopRequest watch(PrintWriter log) {
    return new StopRequest(log, true);
  }

  /** A request that only {@link #request} makes: for runs driven by tests. */
  static StopRequest manual() {
    return new StopRequest(null, false);
  }

  /** Whether stopping has been asked for. */
  boolean requested() {
    return requested.get();
  }

  /** Asks for a stop, as a shutdown would. */
  void request() {
    requested.set(true);
  }

  /** Lets a held shutdown go on, and stops watching. */
  @Override
  public void close() {
    released.countDown();
    if (hook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // The hook is running or has run: it returns now that it is released.
      }
    }
  }
}
