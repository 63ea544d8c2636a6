package dev.tessera.engine.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.testing.CheckingDeviceBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The tensor collectives (what the trainer calls) on CPU tensors and on device tensors (a backend
 * that takes the device path), over three ranks as threads: the same results as the host-array
 * collectives they stage through.
 */
class CollectiveTensorTest {
  private static final int RANKS = 3;

  private static <T> List<T> onRanks(BiFunction<Collective, Backend, T> body, boolean device)
      throws Exception {
    List<Collective> group = InProcessCollective.group(RANKS);
    ExecutorService threads = Executors.newFixedThreadPool(RANKS);
    try {
      List<Future<T>> futures = new ArrayList<>();
      for (Collective rank : group) {
        Backend backend = device ? new CheckingDeviceBackend() : CpuBackend.get();
        futures.add(threads.submit(() -> body.apply(rank, backend)));
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

  /** Rank r's values: r * 100 + i. */
  private static float[] values(int rank, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = rank * 100 + i;
    }
    return v;
  }

  @ParameterizedTest(name = "device tensors: {0}")
  @ValueSource(booleans = {false, true})
  void tensorCollectivesGiveTheSumsAndCopiesOfTheHostOnes(boolean device) throws Exception {
    int n = 6;
    List<float[][]> results =
        onRanks(
            (rank, backend) -> {
              int r = rank.rank();
              Tensor all = backend.fromHost(values(r, n), n);
              rank.allReduceSum(all);
              Tensor reduced = backend.fromHost(values(r, n), n);
              rank.reduceSum(reduced, 1);
              Tensor broadcast = backend.fromHost(values(r, n), 2, 3);
              rank.broadcast(broadcast, 2);
              Tensor scattered = backend.zeros(n / RANKS);
              rank.reduceScatterSum(backend.fromHost(values(r, n), n), scattered);
              Tensor gathered = backend.zeros(RANKS * 2);
              rank.allGather(backend.fromHost(new float[] {r, -r}, 2), gathered);
              return new float[][] {
                backend.toHost(all),
                backend.toHost(reduced),
                backend.toHost(broadcast),
                backend.toHost(scattered),
                backend.toHost(gathered)
              };
            },
            device);
    float[] sum = new float[n];
    for (int r = 0; r < RANKS; r++) {
      for (int i = 0; i < n; i++) {
        sum[i] += values(r, n)[i];
      }
    }
    for (int r = 0; r < RANKS; r++) {
      float[][] got = results.get(r);
      assertThat(got[0]).containsExactly(sum);
      assertThat(got[1]).containsExactly(r == 1 ? sum : values(r, n));
      assertThat(got[2]).containsExactly(values(2, n));
      assertThat(got[3]).containsExactly(sum[2 * r], sum[2 * r + 1]);
      assertThat(got[4]).containsExactly(0, 0, 1, -1, 2, -2);
    }
  }

  @ParameterizedTest(name = "device tensors: {0}")
  @ValueSource(booleans = {false, true})
  void chunkSizesThatDoNotDivideAreRefused(boolean device) throws Exception {
    List<Throwable> errors =
        onRanks(
            (rank, backend) -> {
              try {
                rank.reduceScatterSum(backend.zeros(7), backend.zeros(2));
                return null;
              } catch (IllegalArgumentException e) {
                return e;
              }
            },
            device);
    assertThat(errors)
        .allSatisfy(
            e ->
                assertThat(e)
                    .hasMessageContaining("in has 7 elements, expected 3 ranks x out's 2"));
    assertThatThrownBy(
            () ->
                InProcessCollective.group(1)
                    .get(0)
                    .allGather(CpuBackend.get().zeros(2), CpuBackend.get().zeros(3)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
