package dev.tessera.bench;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.engine.ops.LinearCrossEntropy;
import dev.tessera.engine.ops.Matmul;
import java.util.Arrays;
import java.util.Random;

/**
 * The decoder's classifier and loss over one chunk of 256 rows with targets against the Qwen2.5
 * vocabulary (151,936 entries), forward and backward, for several input widths: the unfused route
 * ({@link Matmul}, {@link CrossEntropy}, {@link Matmul#backward}: the baseline, in the same
 * process) against {@link LinearCrossEntropy}. Medians of alternating repetitions; the ratio is
 * fused time over unfused time. It sets {@code LinearCrossEntropy.MAX_FUSED_WIDTH}, the widest
 * input the decoder sends to the fused op, and the vector width from which it does ({@code
 * LinearCrossEntropy.fusedRoute}).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -cp bench/target/tessera-bench.jar \
 *     dev.tessera.bench.ClassifierLossBenchmark [--threads 1,2] [--widths 64,128,256,512] [--reps 7]
 * </pre>
 */
public final class ClassifierLossBenchmark {
  private static final int ROWS = 256;
  private static final int VOCAB = 151_936;

  private ClassifierLossBenchmark() {}

  public static void main(String[] args) {
    int[] threads = {1, 2};
    int[] widths = {64, 128, 256, 512};
    int reps = 7;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--threads" -> threads = ints(args[++i]);
        case "--widths" -> widths = ints(args[++i]);
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    CpuBackend cpu = CpuBackend.get();
    System.out.printf(
        "classifier + cross-entropy, forward and backward, %d rows x vocabulary %,d%n",
        ROWS, VOCAB);
    System.out.printf(
        "%7s %5s %12s %12s %7s %s%n", "threads", "H", "unfused ms", "fused ms", "ratio", "losses");
    for (int t : threads) {
      Parallel.setThreads(t);
      for (int h : widths) {
        Random random = new Random(h);
        Tensor x = cpu.fromHost(gaussian(random, ROWS * h, 1.0), ROWS, h);
        Tensor w = cpu.fromHost(gaussian(random, VOCAB * h, 0.05), VOCAB, h);
        int[] targets = new int[ROWS];
        for (int r = 0; r < ROWS; r++) {
          targets[r] = random.nextInt(VOCAB);
        }
        float scale = 1f / ROWS;
        Tensor dx = cpu.zeros(ROWS, h);
        Tensor dw = cpu.zeros(VOCAB, h);
        double[] unfused = new double[reps];
        double[] fused = new double[reps];
        double unfusedLoss = 0;
        double fusedLoss = 0;
        for (int i = -1; i < reps; i++) { // the first pair warms up
          long start = System.nanoTime();
          Tensor logits = cpu.empty(ROWS, VOCAB);
          Matmul.forward(logits, x, w, null);
          unfusedLoss = CrossEntropy.forwardBackward(logits, logits, targets, scale);
          Matmul.backward(dx, dw, null, logits, x, w, false);
          cpu.release(logits);
          long middle = System.nanoTime();
          fusedLoss = LinearCrossEntropy.forwardBackward(dx, dw, x, w, targets, scale, false);
          long end = System.nanoTime();
          if (i >= 0) {
            unfused[i] = (middle - start) / 1e6;
            fused[i] = (end - middle) / 1e6;
          }
        }
        Arrays.sort(unfused);
        Arrays.sort(fused);
        double u = unfused[reps / 2];
        double f = fused[reps / 2];
        System.out.printf(
            "%7d %5d %12.1f %12.1f %7.2f %.6f / %.6f%n",
            t, h, u, f, f / u, unfusedLoss / ROWS, fusedLoss / ROWS);
      }
    }
  }

  private static int[] ints(String list) {
    return Arrays.stream(list.split(",")).mapToInt(Integer::parseInt).toArray();
  }

  private static float[] gaussian(Random random, int n, double scale) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) (random.nextGaussian() * scale);
    }
    return values;
  }
}
