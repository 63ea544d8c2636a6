package dev.tessera.data.packing;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Packs samples of known token length into bins (training sequences) of fixed capacity, as
 * Open-Qwen2VL does with its image-caption samples before pre-training: first-fit decreasing or
 * best-fit decreasing over the whole input at once, exactly, in O(n log n) time at worst and close
 * to O(n) on realistic inputs.
 *
 * <h2>Visiting order</h2>
 *
 * Both algorithms visit the samples longest first, ties in input order. Lengths are bounded by the
 * capacity, so that order comes from one stable counting sort over the range of lengths present,
 * O(n + range); only when lengths spread over more than max(n, 2¹⁶) values does a comparison sort
 * of (length, index) keys take over. The sort also cuts the order into <em>runs</em> of equal
 * length.
 *
 * <h2>First-fit decreasing</h2>
 *
 * Each sample goes into the first bin, in creation order, whose load plus the sample's length is at
 * most the capacity; a new bin is opened only when none has room. The naive way rescans every bin
 * for every sample, O(n · bins). Here the room left in each bin sits in the leaves of a max segment
 * tree (a flat {@code int[]}, root at 1, children of {@code i} at {@code 2i} and {@code 2i + 1}),
 * every inner node holding the largest room below it. To place a sample of length {@code len} the
 * search walks down from the root, going left whenever the left child's maximum is at least {@code
 * len} and right otherwise; it therefore ends at the <em>leftmost</em> leaf with room for the
 * sample, the bin first fit would choose, in log₂(leaves) steps. The leaves past the last opened
 * bin hold a full capacity, as bins that have not been opened yet: every one of them lies right of
 * all opened bins, so the search reaches one exactly when no opened bin has room, and it is then
 * the next bin to open. That removes the "open a bin" special case and guarantees that the search
 * ends at a leaf. When the last spare leaf is used the tree doubles. Placing lowers one leaf and
 * updates its ancestors up to the first one whose maximum does not change.
 *
 * <p>Within a run of equal lengths one search serves many samples: when first fit has chosen bin
 * {@code b} for a sample of length {@code len}, every bin left of {@code b} had less room than
 * {@code len}, and rooms only shrink, so the next sample of the same length goes to {@code b} again
 * for as long as {@code b} has room for it. Each search therefore places {@code min(samples left in
 * the run, room / len)} samples at once. Image-caption samples take about 70 distinct lengths and
 * some 25 fit a 4096-token sequence, so a million samples need only about a tenth as many searches.
 *
 * <p>Same visiting order and the same choice at every step: the result is identical, bin for bin,
 * to the naive algorithm, which the tests check against a literal implementation.
 *
 * <h2>Best-fit decreasing</h2>
 *
 * Each sample goes into the bin with the least room that still fits it; among several with the same
 * room, the one that most recently received a sample. Open bins are kept in one stack per room
 * value (a linked list through a per-bin {@code next} array, newest on top), and a two-level bitset
 * marks the room values whose stack is non-empty: the next set bit at or above {@code len} is found
 * in O(1 + capacity / 4096) word reads, and the bin on top of that stack is taken. Bins whose room
 * is below the shortest sample can never be chosen again and are dropped. Above a capacity of 2²⁰
 * the stacks are kept in a {@link TreeMap} keyed by room instead (O(log bins)), with the same
 * choices. Runs are placed in bulk here too: the chosen bin had the least room at or above {@code
 * len}, and after taking a sample its room is smaller still, so no other bin can fit the next
 * sample more tightly, and it is the bin touched last.
 *
 * <h2>Exact fill</h2>
 *
 * One bin at a time, aiming at a load the lengths left can make exactly (the capacity itself, as
 * long as some combination of lengths adds up to it). Each step takes the longest sample whose
 * length leaves a room that is still a sum of available lengths, from a table of the sums {@code
 * 0..capacity} that is recomputed only when a length runs out; so the bin fills longest first, like
 * the decreasing algorithms, and closes to the last token. Where first fit's bins end with gaps
 * shorter than the shortest sample (one to two per cent of a sequence for image-caption samples),
 * nearly every bin here is full until the last few, when the samples run out. When the table would
 * cost too much (capacity × distinct lengths² above 2³⁰), or no sample keeps the room completable,
 * a bin is closed by one sample of exactly the room or two adding up to it if there are such, else
 * it takes the longest sample that leaves room for the shortest.
 *
 * <h2>Memory</h2>
 *
 * Besides the caller's lengths: the visiting order, the bin of each visiting position (turned into
 * the bin of each sample at the end, in place) and the bins' members, 12 bytes per sample at the
 * peak, 8 of which stay in the {@link Packing}; plus a few words per bin and per distinct length.
 * The comparison-sort fallback needs 8 more bytes per sample while it sorts.
 */
public final class BinPacker {

  /** Lengths spanning at most this many values, or at most the sample count, are counted. */
  static final int COUNTING_SORT_RANGE = 1 << 16;

  /** Best fit keeps a stack per room value up to this capacity, a tree map of stacks above it. */
  static final int BUCKET_CAPACITY = 1 << 20;

  /**
   * Internal limits, which tests set to force the fallback paths: the widest length range sorted by
   * counting, the largest capacity for best fit's per-room stacks, and the first guess at the
   * number of bins (0: derived from the total length).
   */
  record Tuning(int countingSortRange, int bucketCapacity, int initialBins) {}

  private BinPacker() {}

  /**
   * Packs samples of the given lengths into bins of {@code capacity}. Deterministic: the same input
   * always gives the same packing.
   *
   * @param lengths the length of each sample, each in {@code 1..capacity}; not modified
   * @param capacity the most a bin may hold, at least 1
   * @throws IllegalArgumentException if {@code capacity < 1} or a length is outside {@code
   *     1..capacity}, naming the first such index and value
   */
  public static Packing pack(int[] lengths, int capacity, PackingAlgorithm algorithm) {
    Objects.requireNonNull(lengths, "lengths");
    return pack(
        lengths,
        capacity,
        algorithm,
        new Tuning(Math.max(COUNTING_SORT_RANGE, lengths.length), BUCKET_CAPACITY, 0));
  }

  static Packing pack(int[] lengths, int capacity, PackingAlgorithm algorithm, Tuning tuning) {
    Objects.requireNonNull(lengths, "lengths");
    Objects.requireNonNull(algorithm, "algorithm");
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1, got " + capacity);
    }
    int n = lengths.length;
    long total = 0;
    int min = Integer.MAX_VALUE;
    int max = 0;
    for (int i = 0; i < n; i++) {
      int length = lengths[i];
      if (length < 1 || length > capacity) {
        throw new IllegalArgumentException(
            "lengths[" + i + "] = " + length + " is outside 1.." + capacity);
      }
      total += length;
      min = Math.min(min, length);
      max = Math.max(max, length);
    }

    Runs runs = visitingOrder(lengths, min, max, tuning.countingSortRange());
    // binOf is indexed by visiting position until the members are grouped, then by sample.
    int[] binOf = new int[n];
    int initialBins = tuning.initialBins();
    if (initialBins < 1) {
      // Within a few percent of what these algorithms use on realistic inputs; the structures
      // grow by doubling when it is short.
      long bound = (total + capacity - 1) / capacity;
      initialBins = (int) Math.min(Math.max(n, 1), bound + bound / 8 + 16);
    }
    Bins bins =
        switch (algorithm) {
          case FIRST_FIT_DECREASING -> firstFit(runs, capacity, binOf, initialBins);
          case EXACT_FILL -> exactFill(runs, capacity, binOf, initialBins);
          case BEST_FIT_DECREASING ->
              bestFit(
                  runs,
                  capacity,
                  min,
                  binOf,
                  initialBins,
                  capacity <= tuning.bucketCapacity()
                      ? new RoomBuckets(capacity, initialBins)
                      : new RoomTree(initialBins));
        };

    // Group the samples by bin, in visiting order within each bin; size[] becomes the cursors.
    int binCount = bins.count();
    int[] size = bins.size();
    int[] binStart = new int[binCount + 1];
    for (int b = 0; b < binCount; b++) {
      binStart[b + 1] = binStart[b] + size[b];
      size[b] = binStart[b];
    }
    int[] order = runs.samples();
    int[] members = new int[n];
    for (int k = 0; k < n; k++) {
      members[size[binOf[k]]++] = order[k];
    }
    // Now that the members say it, overwrite binOf by sample.
    for (int b = 0, j = 0; b < binCount; b++) {
      for (int end = binStart[b + 1]; j < end; j++) {
        binOf[members[j]] = b;
      }
    }
    return new Packing(
        capacity, binOf, binStart, members, Arrays.copyOf(bins.load(), binCount), total);
  }

  /**
   * The samples in visiting order (descending length, ties by ascending index), cut into runs of
   * equal length: run {@code r} holds the samples at positions {@code [r == 0 ? 0 : end[r - 1],
   * end[r])}, all of length {@code length[r]}.
   */
  record Runs(int[] samples, int[] end, int[] length) {}

  /**
   * Sorts the samples into visiting order. A stable counting sort when the lengths span at most
   * {@code countingSortRange} values; otherwise a sort of (length, index) keys packed in longs,
   * which are distinct, so that any sort is stable.
   */
  static Runs visitingOrder(int[] lengths, int min, int max, int countingSortRange) {
    int n = lengths.length;
    int[] samples = new int[n];
    if (n == 0) {
      return new Runs(samples, new int[0], new int[0]);
    }
    long range = (long) max - min + 1;
    if (range <= countingSortRange) {
      // Key max - length: 0 for the longest. next[key] becomes the first position of key.
      int[] next = new int[(int) range + 1];
      for (int length : lengths) {
        next[max - length + 1]++;
      }
      int runCount = 0;
      for (int key = 0; key < range; key++) {
        runCount += next[key + 1] == 0 ? 0 : 1;
        next[key + 1] += next[key];
      }
      int[] end = new int[runCount];
      int[] runLength = new int[runCount];
      for (int key = 0, r = 0; key < range; key++) {
        if (next[key + 1] > next[key]) {
          end[r] = next[key + 1];
          runLength[r++] = max - key;
        }
      }
      for (int i = 0; i < n; i++) {
        samples[next[max - lengths[i]]++] = i;
      }
      return new Runs(samples, end, runLength);
    }
    long[] keys = new long[n];
    for (int i = 0; i < n; i++) {
      keys[i] = (long) (max - lengths[i]) << 32 | i;
    }
    Arrays.sort(keys);
    int runCount = 1;
    for (int k = 1; k < n; k++) {
      runCount += (keys[k] ^ keys[k - 1]) >>> 32 == 0 ? 0 : 1;
    }
    int[] end = new int[runCount];
    int[] runLength = new int[runCount];
    for (int k = 0, r = 0; k < n; k++) {
      samples[k] = (int) keys[k];
      if (k + 1 == n || (keys[k + 1] ^ keys[k]) >>> 32 != 0) {
        end[r] = k + 1;
        runLength[r++] = max - (int) (keys[k] >>> 32);
      }
    }
    return new Runs(samples, end, runLength);
  }

  /** Bins opened: how many, and the sample count and load of each (the arrays may be longer). */
  private record Bins(int count, int[] size, int[] load) {}

  /**
   * First fit over a max segment tree of the room left in each bin (see the class comment), writing
   * the bin of visiting position {@code k} to {@code binAt[k]}.
   */
  private static Bins firstFit(Runs runs, int capacity, int[] binAt, int initialBins) {
    int leaves = Integer.highestOneBit(initialBins);
    if (leaves < initialBins) {
      leaves <<= 1;
    }
    // Every leaf, and so every inner node, starts as an unopened bin with all its room.
    int[] tree = new int[2 * leaves];
    Arrays.fill(tree, capacity);
    int[] size = new int[leaves];
    int binCount = 0;
    int[] runEnd = runs.end();
    int[] runLength = runs.length();
    for (int r = 0, k = 0; r < runEnd.length; r++) {
      int length = runLength[r];
      for (int end = runEnd[r]; k < end; ) {
        // Descend to the leftmost leaf with room >= length: left child if its maximum fits,
        // else right. The root always fits, as at least one leaf is an unopened bin. The step is
        // branch-free (the sign bit of room - length picks the right child), which measured ~10%
        // faster when the path is unpredictable and no slower when it is not.
        int node = 1;
        while (node < leaves) {
          node <<= 1;
          node += (tree[node] - length) >>> 31;
        }
        // Every bin left of this one has too little room for this length, and rooms only
        // shrink: the next samples of the run go here too, as long as they fit.
        int room = tree[node];
        int take = Math.min(end - k, room / length);
        room -= take * length;
        int bin = node - leaves;
        Arrays.fill(binAt, k, k + take, bin);
        k += take;
        size[bin] += take;
        tree[node] = room;
        // Refresh the maxima above; once one is unchanged, so is everything above it.
        while (node > 1) {
          int larger = Math.max(room, tree[node ^ 1]);
          node >>>= 1;
          if (tree[node] == larger) {
            break;
          }
          tree[node] = larger;
          room = larger;
        }
        if (bin == binCount && ++binCount == leaves) {
          // No unopened leaf left: double the tree, the new leaves all unopened bins.
          int[] grown = new int[4 * leaves];
          System.arraycopy(tree, leaves, grown, 2 * leaves, leaves);
          Arrays.fill(grown, 3 * leaves, 4 * leaves, capacity);
          for (int i = 2 * leaves - 1; i > 0; i--) {
            grown[i] = Math.max(grown[2 * i], grown[2 * i + 1]);
          }
          tree = grown;
          size = Arrays.copyOf(size, 2 * leaves);
          leaves *= 2;
        }
      }
    }
    int[] load = new int[binCount];
    for (int b = 0; b < binCount; b++) {
      load[b] = capacity - tree[leaves + b];
    }
    return new Bins(binCount, size, load);
  }

  /**
   * Exact fill (see the class comment), writing the bin of visiting position {@code k} to {@code
   * binAt[k]}. Samples of one length are taken in visiting order.
   */
  private static Bins exactFill(Runs runs, int capacity, int[] binAt, int initialBins) {
    int[] runEnd = runs.end();
    int[] runLength = runs.length();
    int runCount = runEnd.length;
    int n = binAt.length;
    int[] runOf = new int[n];
    for (int r = 0, k = 0; r < runCount; r++) {
      Arrays.fill(runOf, k, runEnd[r], r);
      k = runEnd[r];
    }
    // left[r]: samples of run r not placed yet; first[r]: lowest visiting position among them.
    int[] left = new int[runCount];
    int[] first = new int[runCount];
    for (int r = 0; r < runCount; r++) {
      first[r] = r == 0 ? 0 : runEnd[r - 1];
      left[r] = runEnd[r] - first[r];
    }
    boolean[] placedAt = new boolean[n];
    BitSet available = new BitSet(runCount);
    available.set(0, runCount);
    Sums sums = Sums.worthKeeping(capacity, runCount) ? new Sums(capacity) : null;
    int sumsFor = -1;
    long bulkAbove = runCount == 0 ? 0 : 2L * runLength[0];
    Interleaved order = new Interleaved(n);
    int[] size = new int[Math.max(1, initialBins)];
    int[] load = new int[size.length];
    int binCount = 0;
    while (!available.isEmpty()) {
      int bin = binCount++;
      if (bin == size.length) {
        size = Arrays.copyOf(size, 2 * bin);
        load = Arrays.copyOf(load, 2 * bin);
      }
      int placed = 0;
      int room = capacity;
      while (true) {
        if (sums != null && sumsFor != available.cardinality()) {
          sums.recompute(runLength, available);
          sumsFor = available.cardinality();
        }
        if (placed == 0 && sums != null) {
          room = sums.largestAtMost(capacity);
        }
        int shortest = available.previousSetBit(runCount - 1);
        if (shortest < 0 || runLength[shortest] > room) {
          break;
        }
        int position = -1;
        if (room > bulkAbove) {
          // The bulk of a bin follows the interleaved order, a cross-section of all lengths.
          int candidate = order.nextUnplaced(placedAt);
          int length = runLength[runOf[candidate]];
          if (sums == null || sums.reachable(room - length)) {
            position = candidate;
          }
        }
        if (position < 0) {
          int run = sums == null ? -1 : longestCompletable(runLength, available, sums, room);
          if (run < 0) {
            run = closingRun(runLength, available, left, room);
          }
          position = firstUnplaced(run, first, placedAt);
        }
        int run = runOf[position];
        placedAt[position] = true;
        binAt[position] = bin;
        if (--left[run] == 0) {
          available.clear(run);
        }
        placed += runLength[run];
        room -= runLength[run];
        size[bin]++;
        if (room == 0) {
          break;
        }
      }
      load[bin] = placed;
    }
    return new Bins(binCount, size, load);
  }

  /**
   * Without a completable choice: the run of a sample of exactly {@code room}, else of the longer
   * sample of a pair adding up to it, else the longest sample that leaves room for the shortest,
   * else the longest that fits (the caller has checked that the shortest fits).
   */
  private static int closingRun(int[] runLength, BitSet available, int[] left, int room) {
    int exact = runWithLength(runLength, available, room);
    if (exact >= 0) {
      return exact;
    }
    int pair = pairClosing(runLength, available, left, room);
    if (pair >= 0) {
      return pair;
    }
    int shortest = available.previousSetBit(runLength.length - 1);
    int next = longestAtMost(runLength, available, room - runLength[shortest]);
    return next >= 0 ? next : longestAtMost(runLength, available, room);
  }

  /** The lowest unplaced visiting position of run {@code run}, advancing its cursor. */
  private static int firstUnplaced(int run, int[] first, boolean[] placedAt) {
    while (placedAt[first[run]]) {
      first[run]++;
    }
    return first[run];
  }

  /**
   * Visiting positions in bit-reversed order: every prefix of it is spread evenly over the whole
   * range, so taking samples in this order takes all lengths in their proportions.
   */
  private static final class Interleaved {
    private final int count;
    private final int bits;
    private long next;

    Interleaved(int count) {
      this.count = count;
      this.bits = count <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(count - 1L);
    }

    /** The next position of the order not yet placed; there must be one. */
    int nextUnplaced(boolean[] placedAt) {
      while (true) {
        long position = bits == 0 ? next : Long.reverse(next) >>> (64 - bits);
        if (position < count && !placedAt[(int) position]) {
          return (int) position;
        }
        next++;
      }
    }
  }

  /**
   * The available run with the longest length {@code a <= room} such that {@code room - a} is a sum
   * of available lengths (so the bin can still be closed exactly), or -1.
   */
  private static int longestCompletable(int[] runLength, BitSet available, Sums sums, int room) {
    for (int run = available.nextSetBit(firstRunAtMost(runLength, room));
        run >= 0;
        run = available.nextSetBit(run + 1)) {
      if (sums.reachable(room - runLength[run])) {
        return run;
      }
    }
    return -1;
  }

  /**
   * Which loads {@code 0..capacity} are sums of the lengths still available, each usable any number
   * of times (the counts left are large while it matters; near the end a sum may need more samples
   * of a length than remain, and the bin then closes with a gap). Recomputed only when a length
   * runs out, O(capacity) per length.
   */
  private static final class Sums {
    /** Keep the table only while all its recomputations together stay this cheap. */
    private static final long WORK_LIMIT = 1L << 30;

    private final boolean[] reachable;

    Sums(int capacity) {
      reachable = new boolean[capacity + 1];
    }

    /** At most {@code runs} recomputations of {@code capacity × runs} steps each. */
    static boolean worthKeeping(int capacity, int runs) {
      return (long) capacity * runs * runs <= WORK_LIMIT;
    }

    void recompute(int[] runLength, BitSet available) {
      Arrays.fill(reachable, false);
      reachable[0] = true;
      for (int run = available.nextSetBit(0); run >= 0; run = available.nextSetBit(run + 1)) {
        int length = runLength[run];
        for (int load = length; load < reachable.length; load++) {
          reachable[load] |= reachable[load - length];
        }
      }
    }

    boolean reachable(int load) {
      return reachable[load];
    }

    int largestAtMost(int load) {
      while (!reachable[load]) {
        load--;
      }
      return load;
    }
  }

  /** The available run of exactly {@code length}, or -1. Run lengths descend with the index. */
  private static int runWithLength(int[] runLength, BitSet available, int length) {
    int run = firstRunAtMost(runLength, length);
    return run < runLength.length && runLength[run] == length && available.get(run) ? run : -1;
  }

  /** The available run with the greatest length at most {@code length}, or -1. */
  private static int longestAtMost(int[] runLength, BitSet available, int length) {
    int run = available.nextSetBit(firstRunAtMost(runLength, length));
    return run < 0 ? -1 : run;
  }

  /**
   * The run of the longer sample of an available pair whose lengths add up to {@code room} exactly
   * (two samples of one run only if it has two left), the longest such; or -1.
   */
  private static int pairClosing(int[] runLength, BitSet available, int[] left, int room) {
    int shortest = available.previousSetBit(runLength.length - 1);
    int longest = available.nextSetBit(0);
    if (shortest < 0 || room > 2L * runLength[longest]) {
      return -1;
    }
    for (int run = available.nextSetBit(firstRunAtMost(runLength, room - runLength[shortest]));
        run >= 0 && 2L * runLength[run] >= room;
        run = available.nextSetBit(run + 1)) {
      int partner = runWithLength(runLength, available, room - runLength[run]);
      if (partner > run || (partner == run && left[run] >= 2)) {
        return run;
      }
    }
    return -1;
  }

  /** The first run (lengths descend) whose length is at most {@code length}. */
  private static int firstRunAtMost(int[] runLength, int length) {
    int low = 0;
    int high = runLength.length;
    while (low < high) {
      int mid = (low + high) >>> 1;
      if (runLength[mid] > length) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    return low;
  }

  /**
   * Best fit with the open bins indexed by room in {@code rooms} (see the class comment), writing
   * the bin of visiting position {@code k} to {@code binAt[k]}.
   */
  private static Bins bestFit(
      Runs runs, int capacity, int minLength, int[] binAt, int initialBins, Rooms rooms) {
    int[] size = new int[initialBins];
    int[] load = new int[initialBins];
    int binCount = 0;
    int[] runEnd = runs.end();
    int[] runLength = runs.length();
    for (int r = 0, k = 0; r < runEnd.length; r++) {
      int length = runLength[r];
      for (int end = runEnd[r]; k < end; ) {
        int bin = rooms.takeTightest(length);
        if (bin < 0) {
          bin = binCount++;
          if (bin == size.length) {
            size = Arrays.copyOf(size, 2 * bin);
            load = Arrays.copyOf(load, 2 * bin);
          }
        }
        // No other bin has room in [length, room of this one]: it stays the tightest fit (and
        // the one touched last) for the next samples of the run, as long as they fit.
        int take = Math.min(end - k, (capacity - load[bin]) / length);
        int room = capacity - (load[bin] += take * length);
        Arrays.fill(binAt, k, k + take, bin);
        k += take;
        size[bin] += take;
        // A bin with less room than the shortest sample is full for good: leave it out.
        if (room >= minLength) {
          rooms.put(bin, room);
        }
      }
    }
    return new Bins(binCount, size, load);
  }

  /**
   * Open bins by the room they have left, one stack per room value (newest on top), linked through
   * {@code next}, which is indexed by bin.
   */
  private abstract static class Rooms {
    int[] next;

    Rooms(int initialBins) {
      next = new int[initialBins];
    }

    /**
     * Removes and returns the bin on top of the stack with the least room {@code >= length}, or -1
     * if no open bin has that much room.
     */
    abstract int takeTightest(int length);

    /** Pushes {@code bin}, which is in no stack, onto the stack for {@code room}. */
    abstract void put(int bin, int room);

    final void link(int bin, int head) {
      if (bin >= next.length) {
        next = Arrays.copyOf(next, Math.max(2 * next.length, bin + 1));
      }
      next[bin] = head;
    }
  }

  /**
   * An array of stack heads indexed by room, with a bitset of non-empty rooms and a second bitset
   * of non-zero words of the first, so that the next non-empty room at or above a length is a few
   * word reads away.
   */
  private static final class RoomBuckets extends Rooms {
    private final int[] head;
    private final long[] rooms;
    private final long[] words;

    RoomBuckets(int capacity, int initialBins) {
      super(initialBins);
      head = new int[capacity + 1];
      Arrays.fill(head, -1);
      rooms = new long[(capacity >>> 6) + 1];
      words = new long[((rooms.length - 1) >>> 6) + 1];
    }

    @Override
    int takeTightest(int length) {
      int room = ceiling(length);
      if (room < 0) {
        return -1;
      }
      int bin = head[room];
      int below = next[bin];
      head[room] = below;
      if (below < 0 && (rooms[room >>> 6] &= ~(1L << room)) == 0) {
        words[room >>> 12] &= ~(1L << (room >>> 6));
      }
      return bin;
    }

    @Override
    void put(int bin, int room) {
      int top = head[room];
      link(bin, top);
      head[room] = bin;
      if (top < 0) {
        rooms[room >>> 6] |= 1L << room;
        words[room >>> 12] |= 1L << (room >>> 6);
      }
    }

    /** The least non-empty room {@code >= length}, or -1. Shifts of longs are taken mod 64. */
    private int ceiling(int length) {
      int word = length >>> 6;
      long bits = rooms[word] & (-1L << length);
      if (bits != 0) {
        return word << 6 | Long.numberOfTrailingZeros(bits);
      }
      int from = word + 1;
      int summary = from >>> 6;
      if (summary >= words.length) {
        return -1;
      }
      long nonEmpty = words[summary] & (-1L << from);
      while (nonEmpty == 0) {
        if (++summary == words.length) {
          return -1;
        }
        nonEmpty = words[summary];
      }
      word = summary << 6 | Long.numberOfTrailingZeros(nonEmpty);
      return word << 6 | Long.numberOfTrailingZeros(rooms[word]);
    }
  }

  /** The same stacks with their heads in a tree map by room, for very large capacities. */
  private static final class RoomTree extends Rooms {
    private final TreeMap<Integer, Integer> head = new TreeMap<>();

    RoomTree(int initialBins) {
      super(initialBins);
    }

    @Override
    int takeTightest(int length) {
      Map.Entry<Integer, Integer> entry = head.ceilingEntry(length);
      if (entry == null) {
        return -1;
      }
      int bin = entry.getValue();
      int below = next[bin];
      if (below < 0) {
        head.remove(entry.getKey());
      } else {
        head.put(entry.getKey(), below);
      }
      return bin;
    }

    @Override
    void put(int bin, int room) {
      Integer top = head.put(room, bin);
      link(bin, top == null ? -1 : top);
    }
  }
}
