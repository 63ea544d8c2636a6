package dev.tessera.data.packing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Textbook first fit and best fit decreasing, written for clarity rather than speed, as the
 * reference the fast packer must match sample for sample.
 */
final class NaivePacking {

  private NaivePacking() {}

  /** Sample indices by descending length, ties in input order (a stable library sort). */
  static Integer[] visitingOrder(int[] lengths) {
    Integer[] order = new Integer[lengths.length];
    Arrays.setAll(order, i -> i);
    Arrays.sort(order, Comparator.comparingInt((Integer i) -> lengths[i]).reversed());
    return order;
  }

  /** The bin of every sample under first fit: a linear scan of the bins' running loads. */
  static int[] firstFit(int[] lengths, int capacity) {
    int[] binOf = new int[lengths.length];
    List<Long> loads = new ArrayList<>(); // long: load + length may pass Integer.MAX_VALUE
    for (int sample : visitingOrder(lengths)) {
      int bin = 0;
      while (bin < loads.size() && loads.get(bin) + lengths[sample] > capacity) {
        bin++;
      }
      if (bin == loads.size()) {
        loads.add(0L);
      }
      loads.set(bin, loads.get(bin) + lengths[sample]);
      binOf[sample] = bin;
    }
    return binOf;
  }

  /**
   * The bin of every sample under best fit: the open bin with the least room that fits, among
   * equals the one that received a sample most recently; a new bin when none fits.
   */
  static int[] bestFit(int[] lengths, int capacity) {
    int[] binOf = new int[lengths.length];
    List<Long> loads = new ArrayList<>();
    List<Integer> lastTouched = new ArrayList<>();
    int step = 0;
    for (int sample : visitingOrder(lengths)) {
      int best = -1;
      for (int bin = 0; bin < loads.size(); bin++) {
        long room = capacity - loads.get(bin);
        if (room < lengths[sample]) {
          continue;
        }
        long bestRoom = best < 0 ? Long.MAX_VALUE : capacity - loads.get(best);
        if (room < bestRoom || room == bestRoom && lastTouched.get(bin) > lastTouched.get(best)) {
          best = bin;
        }
      }
      if (best < 0) {
        best = loads.size();
        loads.add(0L);
        lastTouched.add(0);
      }
      loads.set(best, loads.get(best) + lengths[sample]);
      lastTouched.set(best, ++step);
      binOf[sample] = best;
    }
    return binOf;
  }

  static int[] pack(int[] lengths, int capacity, PackingAlgorithm algorithm) {
    return switch (algorithm) {
      case FIRST_FIT_DECREASING -> firstFit(lengths, capacity);
      case BEST_FIT_DECREASING -> bestFit(lengths, capacity);
    };
  }
}
