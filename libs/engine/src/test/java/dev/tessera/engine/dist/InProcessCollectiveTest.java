package dev.tessera.engine.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class InProcessCollectiveTest {

  /** Runs {@code body} on every rank of a group, each on its own thread; results by rank. */
  private static <T> List<T> onRanks(int size, Function<Collective, T> body) throws Exception {
    List<Collective> group = InProcessCollective.group(size);
    ExecutorService threads = Executors.newFixedThreadPool(size);
    try {
      List<Future<T>> futures = new ArrayList<>();
      for (Collective rank : group) {
        futures.add(threads.submit(() -> body.apply(rank)));
      }
      List<T> results = new ArrayList<>();
      for (Future<T> future : futures) {
        results.add(future.get());
      }
      return results;
    } finally {
      threads.shutdownNow();
    }
  }

  private static float[] data(int rank, int length) {
    SplittableRandom random = new SplittableRandom(rank);
    float[] values = new float[length + 3];
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) random.nextGaussian();
    }
    return values;
  }

  @Test
  void allReduceSumsInRankOrderOnEveryRank() throws Exception {
    for (int size : new int[] {1, 2, 3, 5}) {
      int length = 1001;
      List<float[]> results =
          onRanks(
              size,
              rank -> {
                float[] values = data(rank.rank(), length);
                rank.allReduceSum(values, 3, length);
                return values;
              });
      float[] expected = new float[length];
      for (int r = 0; r < size; r++) {
        float[] values = data(r, length);
        for (int i = 0; i < length; i++) {
          expected[i] += values[3 + i];
        }
      }
      for (int r = 0; r < size; r++) {
        float[] got = results.get(r);
        for (int i = 0; i < length; i++) {
          assertThat(got[3 + i]).isEqualTo(expected[i]);
        }
        // Outside the range nothing changes.
        assertThat(got[0]).isEqualTo(data(r, length)[0]);
      }
    }
  }

  @Test
  void scalarsSumAndBroadcastCopiesTheRoot() throws Exception {
    List<Long> longs = onRanks(4, rank -> rank.allReduceSum((long) rank.rank() + 1));
    assertThat(longs).containsOnly(10L);
    List<Double> doubles = onRanks(3, rank -> rank.allReduceSum(0.5 * rank.rank()));
    assertThat(doubles).containsOnly(1.5);
    List<float[]> copies =
        onRanks(
            3,
            rank -> {
              float[] values = data(rank.rank(), 10);
              rank.broadcast(values, 1, 10, 2);
              return values;
            });
    for (float[] copy : copies) {
      for (int i = 1; i < 11; i++) {
        assertThat(copy[i]).isEqualTo(data(2, 10)[i]);
      }
    }
  }

  @Test
  void reduceSumLeavesTheSumOnTheRootOnly() throws Exception {
    List<float[]> results =
        onRanks(
            3,
            rank -> {
              float[] values = data(rank.rank(), 50);
              rank.reduceSum(values, 3, 50, 2);
              return values;
            });
    for (int r = 0; r < 2; r++) {
      assertThat(results.get(r)).containsExactly(data(r, 50));
    }
    float[] expected = data(2, 50);
    for (int i = 0; i < 50; i++) {
      expected[3 + i] = 0;
      for (int r = 0; r < 3; r++) {
        expected[3 + i] += data(r, 50)[3 + i];
      }
    }
    assertThat(results.get(2)).containsExactly(expected);
  }

  @Test
  void aRankThatFailsReleasesTheOthers() throws Exception {
    List<Collective> group = InProcessCollective.group(2);
    ExecutorService threads = Executors.newSingleThreadExecutor();
    try {
      Future<?> waiting = threads.submit(() -> group.get(0).allReduceSum(1L));
      Thread.sleep(100);
      group.get(1).close();
      assertThatThrownBy(waiting::get)
          .hasCauseInstanceOf(PeerLostException.class)
          .hasMessageContaining("another rank failed");
    } finally {
      threads.shutdownNow();
    }
  }

  /** A rank that fails before the others reach a collective must not leave them waiting. */
  @Test
  void aRankThatArrivesAfterAnotherFailedIsReleasedAtOnce() {
    List<Collective> group = InProcessCollective.group(2);
    group.get(1).close();
    long start = System.nanoTime();
    assertThatThrownBy(() -> group.get(0).allReduceSum(1L))
        .isInstanceOf(PeerLostException.class)
        .hasMessageContaining("rank 0: another rank failed or left");
    assertThat(System.nanoTime() - start).isLessThan(5_000_000_000L);
  }
}
