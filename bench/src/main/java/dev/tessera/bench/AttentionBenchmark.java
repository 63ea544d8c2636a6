package dev.tessera.bench;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.ops.Attention;
import dev.tessera.engine.ops.AttentionMask;
import java.util.Arrays;
import java.util.Random;

/**
 * Causal attention forward and backward on the reference training shape (B=4, T=256, Hq=4, Hkv=2,
 * D=64), both masks, medians over repeated calls; it accounts for the attention share of {@link
 * TrainStepBenchmark}'s step.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -cp bench/target/tessera-bench.jar \
 *     dev.tessera.bench.AttentionBenchmark [threads]
 * </pre>
 */
public final class AttentionBenchmark {
  private AttentionBenchmark() {}

  public static void main(String[] args) {
    if (args.length > 0) {
      Parallel.setThreads(Integer.parseInt(args[0]));
    }
    CpuBackend cpu = CpuBackend.get();
    int b = 4;
    int t = 256;
    int hq = 4;
    int hkv = 2;
    int d = 64;
    int[][] starts = {{0}, {0, 100}, {0, 60, 61, 200}, {0, 128}};
    Random random = new Random(1);
    Tensor q = cpu.fromHost(gaussian(random, b * t * hq * d), b, t, hq, d);
    Tensor k = cpu.fromHost(gaussian(random, b * t * hkv * d), b, t, hkv, d);
    Tensor v = cpu.fromHost(gaussian(random, b * t * hkv * d), b, t, hkv, d);
    Tensor dy = cpu.fromHost(gaussian(random, b * t * hq * d), b, t, hq, d);
    Tensor out = cpu.zeros(b, t, hq, d);
    Tensor lse = cpu.zeros(b, hq, t);
    Tensor dq = cpu.zeros(b, t, hq, d);
    Tensor dk = cpu.zeros(b, t, hkv, d);
    Tensor dv = cpu.zeros(b, t, hkv, d);
    for (AttentionMask mask : AttentionMask.values()) {
      int warmup = 50;
      int reps = 60;
      double[] forward = new double[reps];
      double[] backward = new double[reps];
      for (int i = -warmup; i < reps; i++) {
        long start = System.nanoTime();
        Attention.forward(out, lse, q, k, v, mask, starts);
        long middle = System.nanoTime();
        Attention.backward(dq, dk, dv, dy, q, k, v, out, lse, mask, starts);
        if (i >= 0) {
          forward[i] = (middle - start) / 1e6;
          backward[i] = (System.nanoTime() - middle) / 1e6;
        }
      }
      Arrays.sort(forward);
      Arrays.sort(backward);
      System.out.printf(
          "attention %-10s B=%d T=%d Hq=%d Hkv=%d D=%d threads=%d: median %.2f ms forward,"
              + " %.2f ms backward%n",
          mask, b, t, hq, hkv, d, Parallel.threads(), forward[reps / 2], backward[reps / 2]);
    }
  }

  private static float[] gaussian(Random random, int n) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextGaussian();
    }
    return values;
  }
}
