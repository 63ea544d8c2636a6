package dev.tessera.curator.bench;

import dev.tessera.data.packing.BinPacker;
import dev.tessera.data.packing.Packing;
import dev.tessera.data.packing.PackingAlgorithm;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Times {@link BinPacker}'s global first-fit and best-fit decreasing against the reference packer's
 * way of doing first fit, in one run and on the same sample lengths, and compares how many
 * sequences each needs.
 *
 * <p>The samples are Open-Qwen2VL-style image-caption pairs: 144 image tokens, 3 special tokens
 * framing the image and the caption, and a caption whose token count is log-normal with median 14
 * and σ = 0.6 (mean about 17 before clamping), rounded and clamped to 10..80: a rough model of CC3M
 * and DataComp captions, mostly short with a thin tail of long alt texts. About 26% of the captions
 * are raised to 10 (32% end up at exactly 10) and 0.2% cut to 80. So every length lies in 157..227
 * (71 distinct values) and a 4096-token sequence holds about 25 samples. The lengths come from a
 * fixed seed: every run packs the same input.
 *
 * <p>The reference, Open-Qwen2VL's Python packer, splits the input into shards of 10,000 samples
 * and runs first-fit decreasing on each: a stable sort by descending length, then for every sample
 * a scan of the shard's bins in creation order, each bin's load recomputed as the sum of its
 * members' lengths, O(n · bins · bin size). It is implemented here the same way, in Java, with the
 * bins as growable {@code int[]} lists (no boxing), so the comparison is between algorithms, not
 * languages. A second variant keeps a running sum per bin (O(n · bins)); both give the same
 * sequences, and {@link BinPacker} applied to each shard alone gives them too, which the benchmark
 * checks.
 *
 * <p>Usage: {@code java -cp tessera-curator.jar dev.tessera.curator.bench.PackingBenchmark
 * [samples=1000000] [rounds=7] [capacity=4096] [shard=10000]}. Single thread; the figure for each
 * packer is the best of {@code rounds} timed runs after warm-up runs (ten for {@link BinPacker},
 * fewer lead to a half-compiled packer; the per-member reference, which takes seconds a round, gets
 * two warm-up runs on a tenth of the shards and {@code rounds / 2 + 1} timed runs). A million
 * samples take about 15 seconds in all, nearly all of it in the reference.
 */
public final class PackingBenchmark {

  private static final long SEED = 0x7e55e7aL;

  private PackingBenchmark() {}

  public static void main(String[] args) {
    int samples = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 7;
    int capacity = args.length > 2 ? Integer.parseInt(args[2]) : 4096;
    int shard = args.length > 3 ? Integer.parseInt(args[3]) : 10_000;
    if (samples < 1 || rounds < 1 || capacity < 227 || shard < 1) {
      throw new IllegalArgumentException(
          "need samples >= 1, rounds >= 1, capacity >= 227 (the longest sample), shard >= 1");
    }

    int[] lengths = captionSampleLengths(samples, new SplittableRandom(SEED));
    long total = Arrays.stream(lengths).asLongStream().sum();
    long lowerBound = (total + capacity - 1) / capacity;
    int[] sorted = lengths.clone();
    Arrays.sort(sorted);
    long shortest = Arrays.stream(lengths).filter(length -> length == 147 + 10).count();
    long longest = Arrays.stream(lengths).filter(length -> length == 147 + 80).count();
    System.out.printf(
        Locale.ROOT,
        "%,d samples, lengths %d..%d (median %d, mean %.1f; captions at 10 tokens: %.1f%%,"
            + " at 80: %.2f%%), capacity %d, one thread%n"
            + "total length %,d tokens; lower bound ceil(total / capacity) = %,d sequences%n%n",
        samples,
        sorted[0],
        sorted[samples - 1],
        sorted[samples / 2],
        (double) total / samples,
        100.0 * shortest / samples,
        100.0 * longest / samples,
        capacity,
        total,
        lowerBound);

    System.out.printf(
        Locale.ROOT,
        "%-34s %11s %9s %7s %10s %14s%n",
        "packer",
        "sequences",
        "excess",
        "fill",
        "time",
        "samples/s");
    Result ffd = timeGlobal(lengths, capacity, PackingAlgorithm.FIRST_FIT_DECREASING, rounds);
    ffd.print("global FFD (BinPacker)", lowerBound, total, capacity);
    Result bfd = timeGlobal(lengths, capacity, PackingAlgorithm.BEST_FIT_DECREASING, rounds);
    bfd.print("global BFD (BinPacker)", lowerBound, total, capacity);
    Result fill = timeGlobal(lengths, capacity, PackingAlgorithm.EXACT_FILL, rounds);
    fill.print("global exact fill (BinPacker)", lowerBound, total, capacity);

    int[] sharded = new int[samples];
    Result running = timeSharded(lengths, capacity, shard, rounds, false, sharded);
    int[] reference = new int[samples];
    Result rescan = timeSharded(lengths, capacity, shard, rounds / 2 + 1, true, reference);
    running.print("per-shard FFD, running sums", lowerBound, total, capacity);
    rescan.print("per-shard FFD, reference rescan", lowerBound, total, capacity);

    if (!Arrays.equals(sharded, reference)
        || !Arrays.equals(reference, shardedWithBinPacker(lengths, capacity, shard))) {
      throw new IllegalStateException("the per-shard packers disagree");
    }
    Packing firstFit = BinPacker.pack(lengths, capacity, PackingAlgorithm.FIRST_FIT_DECREASING);
    Packing bestFit = BinPacker.pack(lengths, capacity, PackingAlgorithm.BEST_FIT_DECREASING);
    int moved = 0;
    for (int i = 0; i < samples; i++) {
      moved += firstFit.binOf(i) == bestFit.binOf(i) ? 0 : 1;
    }
    System.out.printf(
        Locale.ROOT,
        "%nsamples in another sequence under BFD than under FFD: %,d (%.2f%%)%n",
        moved,
        100.0 * moved / samples);
    System.out.printf(
        Locale.ROOT,
        "per-shard packers agree (and with BinPacker run per shard): yes%n"
            + "speed, global FFD / reference:        %,.0f x%n"
            + "speed, global FFD / running sums:     %,.1f x%n"
            + "speed, global BFD / reference:        %,.0f x%n"
            + "sequences, global FFD / reference:    %.4f (%,d fewer)%n"
            + "sequences, global BFD / global FFD:   %.5f (%,d fewer)%n"
            + "speed, global exact fill / reference: %,.0f x%n"
            + "sequences, exact fill / global FFD:   %.5f (%,d fewer)%n"
            + "sequences, exact fill / lower bound:  %.5f (%,d more)%n",
        ffd.rate() / rescan.rate(),
        ffd.rate() / running.rate(),
        bfd.rate() / rescan.rate(),
        (double) ffd.sequences / rescan.sequences,
        rescan.sequences - ffd.sequences,
        (double) bfd.sequences / ffd.sequences,
        ffd.sequences - bfd.sequences,
        fill.rate() / rescan.rate(),
        (double) fill.sequences / ffd.sequences,
        ffd.sequences - fill.sequences,
        (double) fill.sequences / lowerBound,
        fill.sequences - lowerBound);
  }

  /** 144 + 3 + a caption of 10..80 tokens, log-normal with median 14 and σ 0.6 before clamping. */
  static int[] captionSampleLengths(int count, SplittableRandom random) {
    int[] lengths = new int[count];
    for (int i = 0; i < count; i++) {
      long caption = Math.round(14 * Math.exp(0.6 * gaussian(random)));
      lengths[i] = 144 + 3 + (int) Math.max(10, Math.min(80, caption));
    }
    return lengths;
  }

  private static double gaussian(SplittableRandom random) {
    double u = 1 - random.nextDouble();
    double v = random.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  private record Result(long sequences, int samples, long bestNanos) {
    double rate() {
      return samples / (bestNanos / 1e9);
    }

    void print(String name, long lowerBound, long total, int capacity) {
      System.out.printf(
          Locale.ROOT,
          "%-34s %,11d %8.3f%% %7.4f %8.1f ms %,14.0f%n",
          name,
          sequences,
          100.0 * (sequences - lowerBound) / lowerBound,
          total / ((double) sequences * capacity),
          bestNanos / 1e6,
          rate());
    }
  }

  private static Result timeGlobal(
      int[] lengths, int capacity, PackingAlgorithm algorithm, int rounds) {
    Packing packing = null;
    for (int warmUp = 0; warmUp < 10; warmUp++) {
      packing = BinPacker.pack(lengths, capacity, algorithm);
    }
    long best = Long.MAX_VALUE;
    for (int round = 0; round < rounds; round++) {
      long started = System.nanoTime();
      packing = BinPacker.pack(lengths, capacity, algorithm);
      best = Math.min(best, System.nanoTime() - started);
    }
    return new Result(packing.binCount(), lengths.length, best);
  }

  private static Result timeSharded(
      int[] lengths, int capacity, int shard, int rounds, boolean rescan, int[] binOf) {
    // Warm up on the first shards only: the rescanning reference takes seconds per full run.
    int[] head =
        Arrays.copyOf(lengths, Math.min(lengths.length, Math.max(shard, lengths.length / 10)));
    packSharded(head, capacity, shard, rescan, new int[head.length]);
    packSharded(head, capacity, shard, rescan, new int[head.length]);
    long best = Long.MAX_VALUE;
    int sequences = 0;
    for (int round = 0; round < rounds; round++) {
      long started = System.nanoTime();
      sequences = packSharded(lengths, capacity, shard, rescan, binOf);
      best = Math.min(best, System.nanoTime() - started);
    }
    return new Result(sequences, lengths.length, best);
  }

  /**
   * The reference: first-fit decreasing on each shard of {@code shard} samples on its own, bins
   * numbered across shards. Returns the number of bins and fills {@code binOf}.
   */
  static int packSharded(int[] lengths, int capacity, int shard, boolean rescan, int[] binOf) {
    int bins = 0;
    for (int from = 0; from < lengths.length; from += shard) {
      int to = Math.min(lengths.length, from + shard);
      bins +=
          rescan
              ? firstFitRescanning(lengths, from, to, capacity, binOf, bins)
              : firstFitRunningSums(lengths, from, to, capacity, binOf, bins);
    }
    return bins;
  }

  /** {@code sorted(range(from, to), key=length, reverse=True)}: stable, as Python's sort is. */
  private static Integer[] descending(int[] lengths, int from, int to) {
    Integer[] order = new Integer[to - from];
    for (int i = from; i < to; i++) {
      order[i - from] = i;
    }
    Arrays.sort(order, Comparator.comparingInt((Integer i) -> lengths[i]).reversed());
    return order;
  }

  /**
   * The reference's inner loop: for each sample, every bin in order, its load summed afresh from
   * its member list, until one has room.
   */
  private static int firstFitRescanning(
      int[] lengths, int from, int to, int capacity, int[] binOf, int firstBin) {
    int[][] members = new int[16][];
    int[] sizes = new int[16];
    int bins = 0;
    for (int sample : descending(lengths, from, to)) {
      int length = lengths[sample];
      int bin = 0;
      for (; bin < bins; bin++) {
        int[] list = members[bin];
        int load = 0;
        for (int k = 0, size = sizes[bin]; k < size; k++) {
          load += lengths[list[k]];
        }
        if (load + length <= capacity) {
          break;
        }
      }
      if (bin == bins) {
        if (bins == members.length) {
          members = Arrays.copyOf(members, 2 * bins);
          sizes = Arrays.copyOf(sizes, 2 * bins);
        }
        members[bins++] = new int[8];
      }
      if (sizes[bin] == members[bin].length) {
        members[bin] = Arrays.copyOf(members[bin], 2 * sizes[bin]);
      }
      members[bin][sizes[bin]++] = sample;
      binOf[sample] = firstBin + bin;
    }
    return bins;
  }

  /** The same with a running load per bin: O(n · bins) instead of O(n · bins · bin size). */
  private static int firstFitRunningSums(
      int[] lengths, int from, int to, int capacity, int[] binOf, int firstBin) {
    int[] loads = new int[16];
    int bins = 0;
    for (int sample : descending(lengths, from, to)) {
      int length = lengths[sample];
      int bin = 0;
      while (bin < bins && loads[bin] + length > capacity) {
        bin++;
      }
      if (bin == bins) {
        if (bins == loads.length) {
          loads = Arrays.copyOf(loads, 2 * bins);
        }
        bins++;
      }
      loads[bin] += length;
      binOf[sample] = firstBin + bin;
    }
    return bins;
  }

  /** {@link BinPacker} run on each shard alone, bins numbered across shards. */
  private static int[] shardedWithBinPacker(int[] lengths, int capacity, int shard) {
    int[] binOf = new int[lengths.length];
    int bins = 0;
    for (int from = 0; from < lengths.length; from += shard) {
      int to = Math.min(lengths.length, from + shard);
      Packing packing =
          BinPacker.pack(
              Arrays.copyOfRange(lengths, from, to),
              capacity,
              PackingAlgorithm.FIRST_FIT_DECREASING);
      for (int i = from; i < to; i++) {
        binOf[i] = bins + packing.binOf(i - from);
      }
      bins += packing.binCount();
    }
    return binOf;
  }
}
