package dev.tessera.bench;

import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import java.util.Arrays;
import java.util.Random;

/**
 * A held-out measurement of the tiny preset's decoder (hidden 64, 2 layers, the Qwen2.5 vocabulary)
 * on 2 rows of 512 tokens: the training pass that measurements used to run ({@link
 * Qwen2Decoder#forwardBackwardSum}, the baseline, in the same process) against the forward pass
 * alone ({@link Qwen2Decoder#lossSum}). Medians of alternating repetitions; the ratio is forward
 * time over training-pass time, and the two losses must be equal.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -cp bench/target/tessera-bench.jar \
 *     dev.tessera.bench.HeldOutLossBenchmark [--threads 1,2] [--hidden 64,256] [--reps 9]
 * </pre>
 */
public final class HeldOutLossBenchmark {
  private static final int ROWS = 2;
  private static final int TOKENS = 512;
  private static final int VOCAB = 151_936;

  private HeldOutLossBenchmark() {}

  public static void main(String[] args) {
    int[] threads = {1, 2};
    int[] hidden = {64, 256};
    int reps = 9;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--threads" -> threads = ints(args[++i]);
        case "--hidden" -> hidden = ints(args[++i]);
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    CpuBackend cpu = CpuBackend.get();
    System.out.printf(
        "held-out loss of %d rows x %d tokens, 2 layers, vocabulary %,d%n", ROWS, TOKENS, VOCAB);
    System.out.printf(
        "%7s %6s %16s %14s %7s %s%n",
        "threads", "hidden", "train pass ms", "forward ms", "ratio", "losses");
    for (int t : threads) {
      Parallel.setThreads(t);
      for (int h : hidden) {
        Qwen2Config config =
            new Qwen2Config(h, 2 * h, 2, 4, 2, VOCAB, 1e-6, 10000.0, true, TOKENS, "float32");
        Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
        decoder.parameters().initialise(7, 0.05);
        Random random = new Random(h);
        int[] ids = new int[ROWS * TOKENS];
        int[] targets = new int[ROWS * TOKENS];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = random.nextInt(VOCAB);
          targets[i] = random.nextInt(VOCAB);
        }
        Qwen2Batch batch = Qwen2Batch.text(ROWS, TOKENS, ids, targets);
        double[] train = new double[reps];
        double[] forward = new double[reps];
        double trainLoss = 0;
        double forwardLoss = 0;
        for (int i = -1; i < reps; i++) { // the first pair warms up
          decoder.parameters().zeroGrads();
          long start = System.nanoTime();
          trainLoss = decoder.forwardBackwardSum(batch, null, 1.0 / targets.length);
          long middle = System.nanoTime();
          forwardLoss = decoder.lossSum(batch);
          long end = System.nanoTime();
          if (i >= 0) {
            train[i] = (middle - start) / 1e6;
            forward[i] = (end - middle) / 1e6;
          }
        }
        double trainMs = median(train);
        double forwardMs = median(forward);
        System.out.printf(
            "%7d %6d %16.1f %14.1f %7.2f %s%n",
            t,
            h,
            trainMs,
            forwardMs,
            forwardMs / trainMs,
            trainLoss == forwardLoss ? "equal" : "DIFFER " + trainLoss + " " + forwardLoss);
      }
    }
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  private static int[] ints(String list) {
    return Arrays.stream(list.split(",")).mapToInt(Integer::parseInt).toArray();
  }
}
