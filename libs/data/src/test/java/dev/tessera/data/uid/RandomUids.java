package dev.tessera.data.uid;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;

/**
 * Random uids for tests: both halves span the full unsigned range, and some share their hi half.
 */
final class RandomUids {
  private RandomUids() {}

  /** {@code count} random uids in random order, possibly with duplicates. */
  static List<Uid> unsorted(Random random, int count) {
    List<Uid> uids = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      // Reusing an earlier hi makes the lo half decide the order for some pairs.
      long hi =
          !uids.isEmpty() && random.nextInt(4) == 0
              ? uids.get(random.nextInt(uids.size())).hi()
              : random.nextLong();
      uids.add(new Uid(hi, random.nextLong()));
    }
    return uids;
  }

  /** {@code count} distinct random uids in ascending unsigned order. */
  static List<Uid> sortedDistinct(Random random, int count) {
    TreeSet<Uid> set = new TreeSet<>(unsorted(random, count));
    while (set.size() < count) {
      set.add(new Uid(random.nextLong(), random.nextLong()));
    }
    return new ArrayList<>(set);
  }
}
