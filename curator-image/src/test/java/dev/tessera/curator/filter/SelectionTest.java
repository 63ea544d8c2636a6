package dev.tessera.curator.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.curator.filter.Selection.All;
import dev.tessera.curator.filter.Selection.Any;
import dev.tessera.curator.filter.Selection.AtLeast;
import dev.tessera.curator.filter.Selection.AtMost;
import dev.tessera.curator.filter.Selection.Flag;
import dev.tessera.curator.filter.Selection.TopFraction;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SelectionTest {

  /** Brute force: sort descending, take the ⌈f·n⌉-th score, keep everything at least that. */
  private static BitSet bruteTop(double[] scores, double fraction) {
    Double[] sorted = Arrays.stream(scores).boxed().toArray(Double[]::new);
    Arrays.sort(
        sorted,
        (a, b) -> {
          if (a.isNaN() || b.isNaN()) {
            return a.isNaN() ? (b.isNaN() ? 0 : 1) : -1;
          }
          return Double.compare(b, a);
        });
    int rank = (int) Math.ceil(fraction * scores.length);
    BitSet kept = new BitSet();
    if (rank == 0) {
      return kept;
    }
    double cut = sorted[rank - 1];
    for (int i = 0; i < scores.length; i++) {
      if (!Double.isNaN(scores[i]) && (Double.isNaN(cut) || scores[i] >= cut)) {
        kept.set(i);
      }
    }
    return kept;
  }

  @Test
  void topFractionMatchesABruteForceSort() {
    SplittableRandom random = new SplittableRandom(7);
    for (int round = 0; round < 200; round++) {
      int n = 1 + random.nextInt(400);
      double[] scores = new double[n];
      for (int i = 0; i < n; i++) {
        // Coarse values so that ties are common, and some samples without a score.
        scores[i] = random.nextInt(10) == 0 ? Double.NaN : random.nextInt(20) / 4.0;
      }
      double fraction = (1 + random.nextInt(100)) / 100.0;
      BitSet kept =
          Selection.keep(new TopFraction("s", fraction), n, Map.of("s", scores), Map.of());
      assertThat(kept).as("n %d, fraction %.2f", n, fraction).isEqualTo(bruteTop(scores, fraction));
      assertThat(kept.cardinality())
          .isGreaterThanOrEqualTo(
              Math.min(
                  (int) Math.ceil(fraction * n),
                  (int) Arrays.stream(scores).filter(s -> !Double.isNaN(s)).count()));
    }
  }

  @Test
  void unionAndIntersectionAreExact() {
    double[] su = {90, 80, 85, 70, Double.NaN, 99};
    double[] clip = {0.3, 0.2, 0.1, 0.35, 0.4, 0.05};
    BitSet dfn = new BitSet();
    dfn.set(1);
    dfn.set(4);
    Map<String, double[]> scores = Map.of("su", su, "clip", clip);
    Map<String, BitSet> flags = Map.of("dfn", dfn);
    // Open-Qwen2VL's mixture: SU >= 85, or in the DFN list.
    BitSet union =
        Selection.keep(new Any(List.of(new AtLeast("su", 85), new Flag("dfn"))), 6, scores, flags);
    assertThat(union.stream().toArray()).containsExactly(0, 1, 2, 4, 5);
    BitSet both =
        Selection.keep(
            new All(List.of(new AtLeast("su", 85), new AtLeast("clip", 0.1))), 6, scores, flags);
    assertThat(both.stream().toArray()).containsExactly(0, 2);
    BitSet at = Selection.keep(new AtMost("clip", 0.1), 6, scores, flags);
    assertThat(at.stream().toArray()).containsExactly(2, 5);
    assertThatThrownBy(() -> Selection.keep(new Flag("laion"), 6, scores, flags))
        .hasMessageContaining("no flag column 'laion'");
    assertThatThrownBy(() -> Selection.keep(new AtLeast("itm", 1), 6, scores, flags))
        .hasMessageContaining("no score column 'itm'");
  }
}
