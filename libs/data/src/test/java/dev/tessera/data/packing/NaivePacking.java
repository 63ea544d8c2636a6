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

  /**
   * The bin of every sample under exact fill, from its definition, recomputing everything for every
   * choice. Positions are places in the visiting order. Bins one at a time, aiming at the largest
   * load up to the capacity that the distinct lengths left can make (each any number of times).
   * While the room exceeds twice the longest length, the next unplaced position in bit-reversed
   * order is taken if it leaves a room that is still such a sum. Otherwise the longest length that
   * does, else (or without the table: capacity × distinct lengths² above 2³⁰) one sample of exactly
   * the room, else the longer of the pair adding up to it with the longest such sample, else the
   * longest leaving room for the shortest, else the longest that fits; of a length, the lowest
   * unplaced position.
   */
  static int[] exactFill(int[] lengths, int capacity) {
    int n = lengths.length;
    int[] binOf = new int[n];
    Integer[] order = visitingOrder(lengths);
    boolean[] placed = new boolean[n];
    long distinct = Arrays.stream(lengths).distinct().count();
    boolean useSums = capacity * distinct * distinct <= 1L << 30;
    long bulkAbove = n == 0 ? 0 : 2L * Arrays.stream(lengths).max().getAsInt();
    int bits = n <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(n - 1L);
    long interleaved = 0;
    int unplaced = n;
    for (int bin = 0; unplaced > 0; bin++) {
      long room = capacity;
      long load = 0;
      while (unplaced > 0) {
        List<Integer> left = new ArrayList<>();
        for (int p = 0; p < n; p++) {
          if (!placed[p]) {
            left.add(lengths[order[p]]);
          }
        }
        int[] available = left.stream().mapToInt(Integer::intValue).distinct().toArray();
        boolean[] sums = useSums ? sums(available, capacity) : null;
        if (load == 0 && useSums) {
          room = capacity;
          while (!sums[(int) room]) {
            room--;
          }
        }
        int shortest = Arrays.stream(available).min().getAsInt();
        if (shortest > room) {
          break;
        }
        int position = -1;
        if (room > bulkAbove) {
          while (true) {
            long p = bits == 0 ? interleaved : Long.reverse(interleaved) >>> (64 - bits);
            if (p < n && !placed[(int) p]) {
              int length = lengths[order[(int) p]];
              if (sums == null || sums[(int) (room - length)]) {
                position = (int) p;
              }
              break;
            }
            interleaved++;
          }
        }
        if (position < 0) {
          long length = -1;
          for (int i = 0; useSums && i < available.length; i++) {
            if (available[i] <= room && sums[(int) (room - available[i])]) {
              length = Math.max(length, available[i]);
            }
          }
          if (length < 0) {
            length = closingLength(left, available, room, shortest);
          }
          for (int p = 0; p < n && position < 0; p++) {
            if (!placed[p] && lengths[order[p]] == length) {
              position = p;
            }
          }
        }
        placed[position] = true;
        unplaced--;
        binOf[order[position]] = bin;
        room -= lengths[order[position]];
        load += lengths[order[position]];
        if (room == 0) {
          break;
        }
      }
    }
    return binOf;
  }

  /** Exact fill's choice without the table; see {@link #exactFill}. */
  private static long closingLength(List<Integer> left, int[] available, long room, int shortest) {
    for (int length : available) {
      if (length == room) {
        return length;
      }
    }
    long best = -1;
    for (int a : available) {
      long b = room - a;
      if (a > room - shortest || 2L * a < room) {
        continue;
      }
      long partners = left.stream().filter(x -> x == b).count();
      if (partners >= (a == b ? 2 : 1)) {
        best = Math.max(best, a);
      }
    }
    if (best >= 0) {
      return best;
    }
    for (int a : available) {
      if (a <= room - shortest) {
        best = Math.max(best, a);
      }
    }
    if (best >= 0) {
      return best;
    }
    for (int a : available) {
      if (a <= room) {
        best = Math.max(best, a);
      }
    }
    return best;
  }

  /** Which loads 0..capacity are sums of the given lengths, any number of each. */
  private static boolean[] sums(int[] available, int capacity) {
    boolean[] reachable = new boolean[capacity + 1];
    reachable[0] = true;
    for (int length : available) {
      for (int load = length; load <= capacity; load++) {
        reachable[load] |= reachable[load - length];
      }
    }
    return reachable;
  }

  static int[] pack(int[] lengths, int capacity, PackingAlgorithm algorithm) {
    return switch (algorithm) {
      case FIRST_FIT_DECREASING -> firstFit(lengths, capacity);
      case BEST_FIT_DECREASING -> bestFit(lengths, capacity);
      case EXACT_FILL -> exactFill(lengths, capacity);
    };
  }
}
