package dev.tessera.engine.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class TcpCollectiveTest {
  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static float[] data(int rank, int length) {
    SplittableRandom random = new SplittableRandom(100 + rank);
    float[] values = new float[length];
    for (int i = 0; i < length; i++) {
      values[i] = (float) random.nextGaussian();
    }
    return values;
  }

  /** Every rank on its own thread: joins over TCP, runs the collectives, returns what it saw. */
  @Test
  void sumsAreTheSameBitsAsInProcessAndBroadcastReachesEveryone() throws Exception {
    int size = 3;
    int length = 2049;
    InetSocketAddress rendezvous = new InetSocketAddress("127.0.0.1", freePort());
    ExecutorService threads = Executors.newFixedThreadPool(2 * size);
    try {
      List<Future<float[]>> tcp = new ArrayList<>();
      List<Future<float[]>> local = new ArrayList<>();
      List<Collective> inProcess = InProcessCollective.group(size);
      for (int r = 0; r < size; r++) {
        int rank = r;
        tcp.add(
            threads.submit(
                () -> {
                  try (TcpCollective group =
                      TcpCollective.join(rank, size, rendezvous, Duration.ofSeconds(20))) {
                    float[] values = data(rank, length);
                    group.allReduceSum(values, 0, length);
                    assertThat(group.allReduceSum((long) rank + 1)).isEqualTo(6);
                    assertThat(group.allReduceSum(0.25 * rank)).isEqualTo(0.75);
                    float[] reduced = data(rank, 7);
                    group.reduceSum(reduced, 0, 7, 1);
                    if (rank != 1) {
                      assertThat(reduced).containsExactly(data(rank, 7));
                    } else {
                      float[] expected = new float[7];
                      for (int other = 0; other < size; other++) {
                        for (int i = 0; i < 7; i++) {
                          expected[i] += data(other, 7)[i];
                        }
                      }
                      assertThat(reduced).containsExactly(expected);
                    }
                    float[] shared = data(rank, 5);
                    group.broadcast(shared, 0, 5, 2);
                    assertThat(shared).containsExactly(data(2, 5));
                    group.barrier();
                    return values;
                  }
                }));
        local.add(
            threads.submit(
                () -> {
                  float[] values = data(rank, length);
                  inProcess.get(rank).allReduceSum(values, 0, length);
                  return values;
                }));
      }
      float[] expected = local.get(0).get();
      for (int r = 0; r < size; r++) {
        assertThat(tcp.get(r).get()).containsExactly(expected);
        assertThat(local.get(r).get()).containsExactly(expected);
      }
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void aMissingRankIsNamedWhenTheRendezvousTimesOut() throws Exception {
    InetSocketAddress rendezvous = new InetSocketAddress("127.0.0.1", freePort());
    ExecutorService threads = Executors.newSingleThreadExecutor();
    try {
      Future<TcpCollective> one =
          threads.submit(() -> TcpCollective.join(1, 3, rendezvous, Duration.ofSeconds(10)));
      assertThatThrownBy(() -> TcpCollective.join(0, 3, rendezvous, Duration.ofMillis(1500)))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("ranks 2 did not join");
      one.get().close();
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void aRankThatCannotReachRankZeroSaysWhere() throws Exception {
    InetSocketAddress nowhere = new InetSocketAddress("127.0.0.1", freePort());
    assertThatThrownBy(() -> TcpCollective.join(1, 2, nowhere, Duration.ofMillis(600)))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("could not reach rank 0 at");
  }

  /** Arrays longer than one conversion chunk arrive whole and in order. */
  @Test
  void arraysLongerThanAChunkArriveWhole() throws Exception {
    int length = 150_001;
    InetSocketAddress rendezvous = new InetSocketAddress("127.0.0.1", freePort());
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      List<Future<float[]>> sums = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        int rank = r;
        sums.add(
            threads.submit(
                () -> {
                  try (TcpCollective group =
                      TcpCollective.join(rank, 2, rendezvous, Duration.ofSeconds(20))) {
                    float[] values = data(rank, length);
                    group.allReduceSum(values, 0, length);
                    float[] broadcast = rank == 1 ? data(7, length) : new float[length];
                    group.broadcast(broadcast, 0, length, 1);
                    assertThat(broadcast).containsExactly(data(7, length));
                    return values;
                  }
                }));
      }
      float[] expected = data(0, length);
      float[] other = data(1, length);
      for (int i = 0; i < length; i++) {
        expected[i] += other[i];
      }
      assertThat(sums.get(0).get()).containsExactly(expected);
      assertThat(sums.get(1).get()).containsExactly(expected);
    } finally {
      threads.shutdownNow();
    }
  }

  /**
   * A rank that stops answering is named by rank 0 once the answer timeout passes, and every rank
   * fails with {@link PeerLostException} rather than waiting for ever.
   */
  @Test
  void aSilentRankIsNamedAndReleasesEveryone() throws Exception {
    InetSocketAddress rendezvous = new InetSocketAddress("127.0.0.1", freePort());
    ExecutorService threads = Executors.newFixedThreadPool(3);
    try {
      List<Future<TcpCollective>> joined = new ArrayList<>();
      for (int r = 0; r < 3; r++) {
        int rank = r;
        joined.add(
            threads.submit(
                () ->
                    TcpCollective.join(
                        rank, 3, rendezvous, Duration.ofSeconds(20), Duration.ofMillis(800))));
      }
      TcpCollective zero = joined.get(0).get();
      TcpCollective one = joined.get(1).get();
      TcpCollective silent = joined.get(2).get();
      Future<?> waitingOne = threads.submit(() -> one.allReduceSum(1L));
      assertThatThrownBy(() -> zero.allReduceSum(1L))
          .isInstanceOf(PeerLostException.class)
          .hasMessage("rank 0: rank 2 did not answer within 0.8 s (hung or stopped)");
      // Rank 0 closed its connections, so rank 1 learns at once, not after its own timeout.
      assertThatThrownBy(waitingOne::get)
          .hasCauseInstanceOf(PeerLostException.class)
          .hasMessageContaining("rank 1: the connection to rank 0 failed");
      silent.close();
    } finally {
      threads.shutdownNow();
    }
  }

  /** A rank whose process ends mid-run is named by rank 0. */
  @Test
  void aRankThatGoesAwayIsNamed() throws Exception {
    InetSocketAddress rendezvous = new InetSocketAddress("127.0.0.1", freePort());
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      Future<TcpCollective> one =
          threads.submit(() -> TcpCollective.join(1, 2, rendezvous, Duration.ofSeconds(20)));
      Future<TcpCollective> zero =
          threads.submit(() -> TcpCollective.join(0, 2, rendezvous, Duration.ofSeconds(20)));
      one.get().close();
      float[] values = data(0, 10);
      assertThatThrownBy(() -> zero.get().allReduceSum(values, 0, values.length))
          .isInstanceOf(PeerLostException.class)
          .hasMessageStartingWith("rank 0: the connection to rank 1 failed");
    } finally {
      threads.shutdownNow();
    }
  }
}
