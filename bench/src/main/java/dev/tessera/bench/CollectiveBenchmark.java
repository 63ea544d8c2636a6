package dev.tessera.bench;

import dev.tessera.engine.dist.Collective;
import dev.tessera.engine.dist.InProcessCollective;
import dev.tessera.engine.dist.TcpCollective;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The all-reduce of a gradient-sized float array among ranks as threads ({@link
 * InProcessCollective}, the baseline) and among ranks meeting over TCP on the loopback ({@link
 * TcpCollective}, what processes and nodes use on the CPU and for the host side of GPU runs), in
 * the same process: milliseconds per all-reduce (median) and the TCP/in-process ratio.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -cp bench/target/tessera-bench.jar \
 *     dev.tessera.bench.CollectiveBenchmark [floats, default 8388608] [ranks, default 2] [reps, default 15]
 * </pre>
 */
public final class CollectiveBenchmark {
  private CollectiveBenchmark() {}

  public static void main(String[] args) throws Exception {
    int floats = args.length > 0 ? Integer.parseInt(args[0]) : 8 << 20;
    int ranks = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    int reps = args.length > 2 ? Integer.parseInt(args[2]) : 15;
    System.out.printf(
        "all-reduce of %,d floats (%.1f MB) among %d ranks, median of %d%n",
        floats, floats * 4 / 1e6, ranks, reps);
    List<Collective> threads = InProcessCollective.group(ranks);
    double inProcess = time(ranks, floats, reps, threads::get);
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    InetSocketAddress rendezvous = new InetSocketAddress("127.0.0.1", port);
    double tcp =
        time(
            ranks,
            floats,
            reps,
            rank -> TcpCollective.join(rank, ranks, rendezvous, Duration.ofSeconds(30)));
    System.out.printf(
        "in process (threads)   %8.1f ms  %6.2f GB/s per rank%n",
        inProcess, floats * 4 / inProcess / 1e6);
    System.out.printf(
        "TCP (loopback)         %8.1f ms  %6.2f GB/s per rank%n", tcp, floats * 4 / tcp / 1e6);
    System.out.printf("ratio TCP / in process %8.2f%n", tcp / inProcess);
  }

  @FunctionalInterface
  private interface Join {
    Collective join(int rank) throws Exception;
  }

  /** Median milliseconds of one all-reduce, every rank on a thread of its own. */
  private static double time(int ranks, int floats, int reps, Join join) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(ranks);
    try {
      List<Future<double[]>> results = new ArrayList<>();
      for (int r = 0; r < ranks; r++) {
        int rank = r;
        results.add(
            pool.submit(
                () -> {
                  Collective group = join.join(rank);
                  try {
                    float[] data = new float[floats];
                    SplittableRandom random = new SplittableRandom(rank);
                    for (int i = 0; i < floats; i++) {
                      data[i] = (float) random.nextGaussian();
                    }
                    double[] times = new double[reps];
                    for (int i = -3; i < reps; i++) {
                      group.barrier();
                      long start = System.nanoTime();
                      group.allReduceSum(data, 0, floats);
                      if (i >= 0) {
                        times[i] = (System.nanoTime() - start) / 1e6;
                      }
                    }
                    return times;
                  } finally {
                    group.close();
                  }
                }));
      }
      double[] rankZero = results.get(0).get();
      for (Future<double[]> result : results) {
        result.get();
      }
      Arrays.sort(rankZero);
      return rankZero[reps / 2];
    } finally {
      pool.shutdownNow();
    }
  }
}
