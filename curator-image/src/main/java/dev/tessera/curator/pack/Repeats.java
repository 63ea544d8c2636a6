package dev.tessera.curator.pack;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Which samples each round of a pack run holds when inputs are repeated ({@code --repeat}): the
 * mixture of a PackJob's inputs.
 *
 * <p>A repeat {@code r} packs each sample of a shard {@code ⌊r⌋} times and a fixed share {@code r −
 * ⌊r⌋} of them once more: 2 twice, 0.5 half of them, 1.5 all once and half of them again. Round
 * {@code k} holds the samples packed at least {@code k + 1} times, so the copies of a sample are in
 * different rounds. The packer packs each round on its own, so copies never share a sequence (with
 * {@code continuous} attention a model could otherwise copy a caption from its own context), and
 * the trainer's shuffle mixes the rounds' sequences.
 *
 * <p>The share is taken per shard, exactly: the {@code round(share × n)} samples of the shard's
 * {@code n} whose hash of (shard name, position) is least. The choice depends only on the shard, so
 * it is the same on every run, whatever the other inputs and options.
 */
final class Repeats {
  private Repeats() {}

  /** True when every shard is packed exactly once: one round, holding every sample. */
  static boolean once(List<Double> repeats) {
    return repeats.stream().allMatch(repeat -> repeat == 1.0);
  }

  /**
   * The samples of each round, numbered across all shards in order (shard {@code i}'s {@code p}-th
   * sample is {@code counts[0] + … + counts[i − 1] + p}), ascending within a round. Rounds that
   * would hold nothing are left out.
   *
   * @param counts samples in each shard
   * @param repeats each shard's repeat, more than 0
   * @param names each shard's name, which seeds its choice of a share
   */
  static List<int[]> rounds(int[] counts, List<Double> repeats, List<String> names) {
    double most = repeats.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    int roundCount = (int) Math.ceil(most);
    List<int[]> rounds = new ArrayList<>();
    for (int round = 0; round < roundCount; round++) {
      long size = 0;
      int[][] chosen = new int[counts.length][];
      for (int shard = 0; shard < counts.length; shard++) {
        double share = Math.min(1.0, repeats.get(shard) - round);
        chosen[shard] = share <= 0 ? new int[0] : share(counts[shard], share, names.get(shard));
        size += chosen[shard].length;
      }
      if (size == 0) {
        continue;
      }
      if (size > Integer.MAX_VALUE - 8) {
        throw new PackException(size + " samples in one round of repeats; repeat less");
      }
      int[] members = new int[(int) size];
      int at = 0;
      int first = 0;
      for (int shard = 0; shard < counts.length; shard++) {
        for (int position : chosen[shard]) {
          members[at++] = first + position;
        }
        first += counts[shard];
      }
      rounds.add(members);
    }
    return rounds;
  }

  /** The positions, ascending, of the {@code round(share × count)} samples chosen from a shard. */
  static int[] share(int count, double share, String name) {
    if (share >= 1.0) {
      int[] all = new int[count];
      Arrays.setAll(all, i -> i);
      return all;
    }
    int take = (int) Math.round(share * count);
    long seed = (long) name.hashCode() << 32;
    long[] keys = new long[count];
    for (int position = 0; position < count; position++) {
      // The hash's upper half ranks the samples; the position, in the lower half, breaks ties.
      keys[position] = (mix(seed ^ position) & 0xFFFF_FFFF_0000_0000L) | position;
    }
    Arrays.sort(keys);
    int[] positions = new int[take];
    for (int i = 0; i < take; i++) {
      positions[i] = (int) keys[i];
    }
    Arrays.sort(positions);
    return positions;
  }

  /** SplitMix64's finaliser: a well-spread 64-bit hash of a 64-bit value. */
  private static long mix(long value) {
    long z = value + 0x9E37_79B9_7F4A_7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
    return z ^ (z >>> 31);
  }
}
