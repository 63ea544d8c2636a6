package dev.tessera.bench;

import dev.tessera.engine.cpu.FastMath;
import java.util.Arrays;
import java.util.Random;

/**
 * The loss's and softmax's element-wise kernels on a cache-resident row (32,768 floats, 128 KiB):
 * {@code FastMath.max}, {@code FastMath.exp} and {@code FastMath.expShiftSumDouble}, against plain
 * scalar loops ({@code Math.max}, {@code (float) Math.exp}) in the same process. Prints nanoseconds
 * per element (medians of repeated timings) and the ratio to the scalar loop.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp bench/target/tessera-bench.jar \
 *     dev.tessera.bench.VectorMathBenchmark
 * </pre>
 */
public final class VectorMathBenchmark {
  private static final int N = 1 << 15;
  private static final int CALLS = 2000;
  private static final int REPEATS = 9;

  private VectorMathBenchmark() {}

  public static void main(String[] args) {
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
