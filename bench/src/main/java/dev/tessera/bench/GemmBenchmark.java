package dev.tessera.bench;

import dev.tessera.engine.cpu.Gemm;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.cpu.Vec;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;

/**
 * Tessera's {@link Gemm} against OpenBLAS {@code cblas_sgemm} on the same shapes, layouts and
 * thread counts: 512^3 and the linear-layer shapes of the reference training run (N = 1024 tokens).
 * Prints best and median GFLOP/s of both and the ratio of the best.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -cp bench/target/tessera-bench.jar \
 *     dev.tessera.bench.GemmBenchmark [--runs R] [--threads T1,T2,...] [--shapes MxNxK,...]
 *     [--layouts NT,NN,TN] [--cpu-time]
 * </pre>
 *
 * <p>{@code --cpu-time} times with the calling thread's CPU time instead of the wall clock: on a
 * shared machine it leaves out the time the thread waits for a core. It is only meaningful at one
 * thread (both sides then compute on the calling thread).
 */
public final class GemmBenchmark {
  private GemmBenchmark() {}

  /** M x N x K. */
  private static final int[][] SHAPES = {
    {512, 512, 512}, {1024, 256, 256}, {1024, 1024, 256}, {1024, 256, 1024}, {1024, 4096, 256},
  };

  private static final String[] LAYOUTS = {"NT", "NN", "TN"};

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private static boolean cpuTime;

  public static void main(String[] args) {
    int runs = 7;
    int[][] shapes = SHAPES;
    String[] layouts = LAYOUTS;
    int all = Runtime.getRuntime().availableProcessors();
    int[] threadCounts = all > 1 ? new int[] {1, all} : new int[] {1};
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--runs" -> runs = Integer.parseInt(args[++i]);
        case "--threads" ->
            threadCounts =
                Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
        case "--shapes" ->
            shapes =
                Arrays.stream(args[++i].split(","))
                    .map(x -> Arrays.stream(x.split("x")).mapToInt(Integer::parseInt).toArray())
                    .toArray(int[][]::new);
        case "--layouts" -> layouts = args[++i].split(",");
        case "--cpu-time" -> cpuTime = true;
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (!Vec.SIMD) {
      System.out.println("warning: no Vector API; run with --add-modules jdk.incubator.vector");
    }
    System.out.printf(
        "GEMM C = A*B, fp32, %d runs after warm-up, GFLOP/s best (median), %s%n",
        runs, cpuTime ? "thread CPU time" : "wall clock");
    System.out.printf(
        "%-7s %-17s %-6s %20s %20s %7s%n",
        "threads", "M x N x K", "layout", "Tessera", "OpenBLAS", "ratio");
    for (int threads : threadCounts) {
      Parallel.setThreads(threads);
      openblas.blas_set_num_threads(threads);
      for (int[] shape : shapes) {
        for (String layout : layouts) {
          run(threads, shape[0], shape[1], shape[2], layout, runs);
        }
      }
    }
  }

  private static void run(int threads, int m, int n, int k, String layout, int runs) {
    boolean ta = layout.charAt(0) == 'T';
    boolean tb = layout.charAt(1) == 'T';
    Random random = new Random(42);
    float[] a = random(random, m * k);
    float[] b = random(random, k * n);
    float[] c = new float[m * n];
    int lda = ta ? m : k;
    int ldb = tb ? k : n;
    double flops = 2.0 * m * n * k;
    // Enough calls per timed run to last ~20 ms.
    int reps = (int) Math.max(1, Math.min(1000, 20e-3 * 50e9 * threads / flops));
    Runnable tessera = () -> Gemm.sgemm(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, n);
    double[] ours = time(tessera, reps, runs, flops);
    try (FloatPointer pa = new FloatPointer(a);
        FloatPointer pb = new FloatPointer(b);
        FloatPointer pc = new FloatPointer(c.length)) {
      int transA = ta ? openblas.CblasTrans : openblas.CblasNoTrans;
      int transB = tb ? openblas.CblasTrans : openblas.CblasNoTrans;
      Runnable blas =
          () ->
              openblas.cblas_sgemm(
                  openblas.CblasRowMajor, transA, transB, m, n, k, 1f, pa, lda, pb, ldb, 0f, pc, n);
      double[] theirs = time(blas, reps, runs, flops);
      float[] expected = new float[c.length];
      pc.get(expected);
      double error = 0;
      double scale = 0;
      for (int i = 0; i < c.length; i++) {
        error = Math.max(error, Math.abs(c[i] - expected[i]));
        scale = Math.max(scale, Math.abs(expected[i]));
      }
      if (error > 1e-4 * scale) {
        throw new AssertionError("Tessera and OpenBLAS disagree: relative error " + error / scale);
      }
      System.out.printf(
          "%-7d %-17s %-6s %9.1f (%8.1f) %9.1f (%8.1f) %7.2f%n",
          threads,
          m + "x" + n + "x" + k,
          layout,
          ours[0],
          ours[1],
          theirs[0],
          theirs[1],
          ours[0] / theirs[0]);
    }
  }

  private static long now() {
    return cpuTime ? THREADS.getCurrentThreadCpuTime() : System.nanoTime();
  }

  /** Best and median GFLOP/s over {@code runs} timed runs of {@code reps} calls, after warm-up. */
  private static double[] time(Runnable body, int reps, int runs, double flops) {
    long warmUntil = System.nanoTime() + 300_000_000L;
    while (System.nanoTime() < warmUntil) {
      body.run();
    }
    double[] rates = new double[runs];
    for (int r = 0; r < runs; r++) {
      long start = now();
      for (int i = 0; i < reps; i++) {
        body.run();
      }
      rates[r] = flops * reps / (now() - start);
    }
    Arrays.sort(rates);
    return new double[] {rates[runs - 1], rates[runs / 2]};
  }

  private static float[] random(Random random, int n) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextGaussian();
    }
    return values;
  }
}
