package dev.tessera.curator.bench;

import dev.tessera.curator.filter.Selection;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The select step over a pool of synthetic score rows: Open-Qwen2VL-style rules (a threshold, or a
 * uid-list flag together with a top fraction of a CLIP-like score) evaluated with {@link
 * Selection}, against the baseline of finding the same top-fraction threshold by sorting the whole
 * column, in the same run.
 *
 * <pre>
 * java -cp curator-image/target/tessera-curator.jar dev.tessera.curator.bench.SelectionBenchmark \
 *     [rows=10000000] [rounds=3]
 * </pre>
 */
public final class SelectionBenchmark {
  private SelectionBenchmark() {}

  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000_000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    SplittableRandom random = new SplittableRandom(1);
    double[] su = new double[n];
    double[] clip = new double[n];
    BitSet dfn = new BitSet(n);
    for (int i = 0; i < n; i++) {
      su[i] = random.nextInt(101);
      clip[i] = random.nextDouble();
      if (random.nextInt(5) == 0) {
        dfn.set(i);
      }
    }
    Selection.Rule rule =
        new Selection.Any(
            List.of(
                new Selection.AtLeast("su", 85),
                new Selection.All(
                    List.of(new Selection.Flag("dfn"), new Selection.TopFraction("clip", 0.3)))));
    double best = Double.MAX_VALUE;
    double bestSort = Double.MAX_VALUE;
    int kept = 0;
    for (int round = 0; round <= rounds; round++) {
      long start = System.nanoTime();
      kept =
          Selection.keep(rule, n, Map.of("su", su, "clip", clip), Map.of("dfn", dfn)).cardinality();
      double seconds = (System.nanoTime() - start) / 1e9;
      start = System.nanoTime();
      double[] sorted = clip.clone();
      Arrays.sort(sorted);
      double sortThreshold = sorted[n - (int) Math.ceil(0.3 * n)];
      double sortSeconds = (System.nanoTime() - start) / 1e9;
      if (sortThreshold != Selection.threshold(clip, 0.3)) {
        throw new IllegalStateException("the thresholds disagree");
      }
      if (round > 0) {
        best = Math.min(best, seconds);
        bestSort = Math.min(bestSort, sortSeconds);
      }
    }
    System.out.printf(
        Locale.ROOT,
        "%,d rows: rule tree (threshold OR (flag AND top 30%%)) %.2f s, %,d kept; sorting the"
            + " column for its threshold alone %.2f s; ratio %.2f (goal: < 60 s)%n",
        n,
        best,
        kept,
        bestSort,
        best / bestSort);
  }
}
