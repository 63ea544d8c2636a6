package dev.tessera.bench;

import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.cpu.VectorApiLauncher;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The loss's and softmax's element-wise kernels on a cache-resident row (32,768 floats, 128 KiB):
 * {@code FastMath.max}, {@code FastMath.exp} and {@code FastMath.expShiftSumDouble}, against plain
 * scalar loops ({@code Math.max}, {@code (float) Math.exp}) in the same process. Prints nanoseconds
 * per element (medians of repeated timings) and the ratio to the scalar loop.
 *
 * <p>With {@code --launches N} it measures how C2's compilation of the kernels varies from JVM to
 * JVM instead: it starts N fresh JVMs with C2's default trap limit and N with {@link
 * VectorApiLauncher#TRAP_LIMIT}, alternately, each running the three kernels as above (what ran
 * before a kernel is part of what C2 sees), and prints {@code expShiftSumDouble}'s figures in both
 * settings, with how many runs were slow (more than 1.5 times the fastest run).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 \
 *     -cp bench/target/tessera-bench.jar dev.tessera.bench.VectorMathBenchmark [--launches 12]
 * </pre>
 */
public final class VectorMathBenchmark {
  private static final int N = 1 << 15;
  private static final int CALLS = 2000;
  private static final int REPEATS = 9;
  private static final String DEFAULT_TRAP_LIMIT = "-XX:PerMethodTrapLimit=100";

  private VectorMathBenchmark() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    if (args.length == 2 && args[0].equals("--launches")) {
      compareLaunches(Integer.parseInt(args[1]));
      return;
    }
    if (args.length > 0) {
      throw new IllegalArgumentException("usage: VectorMathBenchmark [--launches N]");
    }
    float[] x = new float[N];
    float[] out = new float[N];
    Random random = new Random(1);
    for (int i = 0; i < N; i++) {
      x[i] = (float) (random.nextGaussian() * 3);
    }
    System.out.printf("%-20s %14s %14s %7s%n", "kernel", "ns/element", "scalar ns/el", "ratio");
    report(
        "max",
        () -> FastMath.max(x, 0, N),
        () -> {
          float max = Float.NEGATIVE_INFINITY;
          for (int i = 0; i < N; i++) {
            max = Math.max(max, x[i]);
          }
          return max;
        });
    report(
        "exp",
        () -> {
          FastMath.exp(x, 0, out, 0, N);
          return out[N - 1];
        },
        () -> {
          for (int i = 0; i < N; i++) {
            out[i] = (float) Math.exp(x[i]);
          }
          return out[N - 1];
        });
    report(
        "expShiftSumDouble",
        () -> FastMath.expShiftSumDouble(x, 0, 1f, out, 0, N),
        () -> {
          double sum = 0;
          for (int i = 0; i < N; i++) {
            float e = (float) Math.exp(x[i] - 1f);
            out[i] = e;
            sum += e;
          }
          return sum;
        });
  }

  /** Fresh JVMs, alternately with C2's default trap limit and with Tessera's. */
  private static void compareLaunches(int launches) throws IOException, InterruptedException {
    List<String> settings = List.of(DEFAULT_TRAP_LIMIT, VectorApiLauncher.TRAP_LIMIT);
    List<List<Double>> times = List.of(new ArrayList<>(), new ArrayList<>());
    for (int launch = 0; launch < launches; launch++) {
      for (int s = 0; s < settings.size(); s++) {
        double nanos = launchOnce(settings.get(s));
        times.get(s).add(nanos);
        System.out.printf("launch %2d  %-30s %.3f ns/element%n", launch, settings.get(s), nanos);
      }
    }
    double fastest =
        times.stream().flatMap(List::stream).mapToDouble(Double::doubleValue).min().orElse(0);
    System.out.printf(
        "%n%-30s %8s %8s %8s %12s%n", "expShiftSumDouble", "median", "best", "worst", "slow runs");
    double[] medians = new double[settings.size()];
    for (int s = 0; s < settings.size(); s++) {
      List<Double> sorted = new ArrayList<>(times.get(s));
      Collections.sort(sorted);
      medians[s] = sorted.get(sorted.size() / 2);
      long slow = sorted.stream().filter(t -> t > 1.5 * fastest).count();
      System.out.printf(
          "%-30s %8.3f %8.3f %8.3f %9d of %d%n",
          settings.get(s),
          medians[s],
          sorted.get(0),
          sorted.get(sorted.size() - 1),
          slow,
          sorted.size());
    }
    System.out.printf(
        "ratio of medians (Tessera's limit / default): %.3f%n", medians[1] / medians[0]);
  }

  /** One JVM running the kernels: {@code expShiftSumDouble}'s nanoseconds per element. */
  private static double launchOnce(String trapLimit) throws IOException, InterruptedException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process process =
        new ProcessBuilder(
                java,
                "--add-modules",
                "jdk.incubator.vector",
                trapLimit,
                "-cp",
                System.getProperty("java.class.path"),
                VectorMathBenchmark.class.getName())
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.waitFor() != 0) {
      throw new IllegalStateException("benchmark JVM failed:\n" + output);
    }
    for (String line : output.split("\n")) {
      if (line.startsWith("expShiftSumDouble")) {
        return Double.parseDouble(line.trim().split("\\s+")[1]);
      }
    }
    throw new IllegalStateException("no expShiftSumDouble line in:\n" + output);
  }

  /** A kernel call returning a value, kept so that the JIT cannot drop the work. */
  private interface Kernel {
    double run();
  }

  private static void report(String name, Kernel vector, Kernel scalar) {
    double[] v = new double[REPEATS];
    double[] s = new double[REPEATS];
    double sink = 0;
    for (int r = -2; r < REPEATS; r++) { // two warm-up rounds
      long start = System.nanoTime();
      for (int c = 0; c < CALLS; c++) {
        sink += vector.run();
      }
      long middle = System.nanoTime();
      for (int c = 0; c < CALLS; c++) {
        sink += scalar.run();
      }
      long end = System.nanoTime();
      if (r >= 0) {
        v[r] = (middle - start) / (double) CALLS / N;
        s[r] = (end - middle) / (double) CALLS / N;
      }
    }
    Arrays.sort(v);
    Arrays.sort(s);
    double vm = v[REPEATS / 2];
    double sm = s[REPEATS / 2];
    System.out.printf(
        "%-20s %14.3f %14.3f %7.3f%s%n", name, vm, sm, vm / sm, sink == 42 ? " " : "");
  }
}
