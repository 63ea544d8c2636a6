package dev.tessera.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ParallelTest {
  private final int threads = Parallel.threads();

  @AfterEach
  void restoreThreads() {
    Parallel.setThreads(threads);
  }

  @ParameterizedTest(name = "threads={0} n={1} grain={2}")
  @CsvSource({
    "1,100,1",
    "2,1,1",
    "2,7,1",
    "2,1000,3",
    "3,1000,1",
    "4,17,2",
    "4,5000,64",
    "2,9,100"
  })
  void visitsEveryIndexOnce(int threadCount, int n, int grain) {
    Parallel.setThreads(threadCount);
    AtomicIntegerArray visits = new AtomicIntegerArray(n);
    Parallel.forRange(
        n,
        grain,
        (from, to) -> {
          assertThat(from).isLessThan(to);
          for (int i = from; i < to; i++) {
            visits.incrementAndGet(i);
          }
        });
    for (int i = 0; i < n; i++) {
      assertThat(visits.get(i)).as("index %d", i).isEqualTo(1);
    }
  }

  @Test
  void callerTakesChunksAndIsAKernelThreadOnlyMeanwhile() {
    Parallel.setThreads(2);
    Thread caller = Thread.currentThread();
    Set<Thread> ran = ConcurrentHashMap.newKeySet();
    Set<Boolean> inKernel = ConcurrentHashMap.newKeySet();
    Parallel.forRange(
        8,
        1,
        (from, to) -> {
          ran.add(Thread.currentThread());
          inKernel.add(Parallel.inKernelThread());
          sleep(5);
        });
    assertThat(ran).contains(caller);
    assertThat(inKernel).containsExactly(true);
    assertThat(Parallel.inKernelThread()).isFalse();
  }

  @Test
  void nestedLoopsRunInlineAndCoverTheirRange() {
    Parallel.setThreads(2);
    int outer = 16;
    int inner = 50;
    AtomicIntegerArray visits = new AtomicIntegerArray(outer * inner);
    Parallel.forRange(
        outer,
        1,
        (from, to) -> {
          for (int o = from; o < to; o++) {
            int row = o;
            Parallel.forRange(
                inner,
                1,
                (f, t) -> {
                  for (int i = f; i < t; i++) {
                    visits.incrementAndGet(row * inner + i);
                  }
                });
          }
        });
    for (int i = 0; i < outer * inner; i++) {
      assertThat(visits.get(i)).as("index %d", i).isEqualTo(1);
    }
  }

  @Test
  void aFailingChunkIsRethrownAfterTheOthersFinish() {
    Parallel.setThreads(2);
    IllegalStateException boom = new IllegalStateException("chunk 3 failed");
    AtomicInteger running = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    assertThatThrownBy(
            () ->
                Parallel.forRange(
                    8,
                    1,
                    (from, to) -> {
                      running.incrementAndGet();
                      try {
                        sleep(3);
                        if (from == 3) {
                          throw boom;
                        }
                        done.incrementAndGet();
                      } finally {
                        running.decrementAndGet();
                      }
                    }))
        .isSameAs(boom);
    assertThat(running.get()).as("chunks still running after the loop returned").isZero();
    assertThat(done.get()).isEqualTo(7);
    assertThat(Parallel.inKernelThread()).isFalse();
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
