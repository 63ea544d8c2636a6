package dev.tessera.curator.filter;

import java.util.BitSet;
import java.util.List;
import java.util.Map;

/**
 * The global select step of curation: rules over the whole pool's per-sample scores, combined with
 * {@code all}/{@code any} groups (Open-Qwen2VL's final mixture is {@code any(SU >= 85, DFN list)}),
 * evaluated into the set of samples kept. Scores are columns — one {@code double[]} per attribute,
 * {@code NaN} where a sample has no value (it then fails every threshold on that attribute).
 */
public final class Selection {
  private Selection() {}

  /** A rule that keeps some samples of the pool. */
  public sealed interface Rule permits AtLeast, AtMost, TopFraction, Flag, All, Any {}

  /** Keeps samples whose {@code attribute} is at least {@code value}. */
  public record AtLeast(String attribute, double value) implements Rule {}

  /** Keeps samples whose {@code attribute} is at most {@code value}. */
  public record AtMost(String attribute, double value) implements Rule {}

  /**
   * Keeps the top {@code fraction} of the pool by {@code attribute}, as DataComp's baselines do:
   * the threshold is the score of the {@code ⌈fraction × n⌉}-th best sample (samples without a
   * score rank last), and every sample scoring at least that is kept, ties included.
   */
  public record TopFraction(String attribute, double fraction) implements Rule {
    public TopFraction {
      if (!(fraction > 0 && fraction <= 1)) {
        throw new IllegalArgumentException("fraction must be in (0, 1], got " + fraction);
      }
    }
  }

  /** Keeps samples whose boolean column {@code attribute} is set (a uid list, a filter's pass). */
  public record Flag(String attribute) implements Rule {}

  /** Keeps samples every rule keeps. */
  public record All(List<Rule> rules) implements Rule {}

  /** Keeps samples any rule keeps. */
  public record Any(List<Rule> rules) implements Rule {}

  /**
   * The samples {@code rule} keeps among {@code n}.
   *
   * @param scores numeric columns by attribute
   * @param flags boolean columns by attribute
   * @throws IllegalArgumentException naming an attribute no column has
   */
  public static BitSet keep(
      Rule rule, int n, Map<String, double[]> scores, Map<String, BitSet> flags) {
    if (rule instanceof AtLeast r) {
      return compare(column(scores, r.attribute(), n), r.value(), true);
    }
    if (rule instanceof AtMost r) {
      return compare(column(scores, r.attribute(), n), r.value(), false);
    }
    if (rule instanceof TopFraction r) {
      double[] column = column(scores, r.attribute(), n);
      return compare(column, threshold(column, r.fraction()), true);
    }
    if (rule instanceof Flag r) {
      BitSet flag = flags.get(r.attribute());
      if (flag == null) {
        throw new IllegalArgumentException("no flag column '" + r.attribute() + "'");
      }
      BitSet copy = (BitSet) flag.clone();
      copy.clear(n, Math.max(n, copy.length()));
      return copy;
    }
    if (rule instanceof All r) {
      BitSet kept = new BitSet(n);
      kept.set(0, n);
      for (Rule inner : r.rules()) {
        kept.and(keep(inner, n, scores, flags));
      }
      return kept;
    }
    Any any = (Any) rule;
    BitSet kept = new BitSet(n);
    for (Rule inner : any.rules()) {
      kept.or(keep(inner, n, scores, flags));
    }
    return kept;
  }

  /**
   * The score of the {@code ⌈fraction × n⌉}-th best sample ({@code NaN} ranks last); found by
   * selection in expected linear time, not a full sort.
   */
  public static double threshold(double[] scores, double fraction) {
    int present = 0;
    for (double score : scores) {
      present += Double.isNaN(score) ? 0 : 1;
    }
    int rank = (int) Math.ceil(fraction * scores.length);
    if (rank == 0 || present == 0) {
      return Double.POSITIVE_INFINITY;
    }
    if (rank > present) {
      // The cut falls among the samples without a score: every scored sample is in.
      return Double.NEGATIVE_INFINITY;
    }
    double[] values = new double[present];
    int at = 0;
    for (double score : scores) {
      if (!Double.isNaN(score)) {
        values[at++] = score;
      }
    }
    // The rank-th largest is the (present - rank)-th smallest.
    return select(values, present - rank);
  }

  /** The {@code k}-th smallest value (0-based), by quickselect with median-of-three pivots. */
  static double select(double[] values, int k) {
    int low = 0;
    int high = values.length - 1;
    while (low < high) {
      int mid = (low + high) >>> 1;
      double pivot = median(values[low], values[mid], values[high]);
      int i = low;
      int j = high;
      while (i <= j) {
        while (values[i] < pivot) {
          i++;
        }
        while (values[j] > pivot) {
          j--;
        }
        if (i <= j) {
          double swap = values[i];
          values[i++] = values[j];
          values[j--] = swap;
        }
      }
      if (k <= j) {
        high = j;
      } else if (k >= i) {
        low = i;
      } else {
        return values[k];
      }
    }
    return values[k];
  }

  private static double median(double a, double b, double c) {
    return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  }

  private static BitSet compare(double[] column, double value, boolean atLeast) {
    BitSet kept = new BitSet(column.length);
    for (int i = 0; i < column.length; i++) {
      double score = column[i];
      if (!Double.isNaN(score) && (atLeast ? score >= value : score <= value)) {
        kept.set(i);
      }
    }
    return kept;
  }

  private static double[] column(Map<String, double[]> scores, String attribute, int n) {
    double[] column = scores.get(attribute);
    if (column == null) {
      throw new IllegalArgumentException("no score column '" + attribute + "'");
    }
    if (column.length != n) {
      throw new IllegalArgumentException(
          "score column '" + attribute + "' has " + column.length + " rows, the pool " + n);
    }
    return column;
  }
}
