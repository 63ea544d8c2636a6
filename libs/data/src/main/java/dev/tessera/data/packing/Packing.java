package dev.tessera.data.packing;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The result of {@link BinPacker#pack}: which bin (training sequence) every sample went to, and
 * each bin's samples in placement order. Immutable.
 *
 * <p>Bins are numbered in the order they were opened. Their members are held in compressed sparse
 * row form: one {@code int[]} of all samples grouped by bin, and the offset where each bin's group
 * starts. With {@link #binOf(int)} that is 8 bytes per sample plus 8 per bin, so 10⁸ samples cost
 * 0.8 GB.
 */
public final class Packing {

  private final int capacity;
  private final int[] binOf;
  private final int[] binStart;
  private final int[] members;
  private final int[] binLoad;
  private final long totalLength;

  /**
   * Takes ownership of the arrays: {@code binStart} has {@code binLoad.length + 1} entries, and
   * {@code members[binStart[b]..binStart[b + 1])} are bin {@code b}'s samples.
   */
  Packing(
      int capacity, int[] binOf, int[] binStart, int[] members, int[] binLoad, long totalLength) {
    this.capacity = capacity;
    this.binOf = binOf;
    this.binStart = binStart;
    this.members = members;
    this.binLoad = binLoad;
    this.totalLength = totalLength;
  }

  /**
   * The bins of several packings of one capacity, one packing's after another's: the samples of
   * part {@code p} are numbered after those of the parts before it, in the same order, and its bins
   * after theirs. A packer that packs a set in rounds (each sample at most once per round) joins
   * the rounds with this.
   *
   * @throws IllegalArgumentException if the parts were packed to different capacities, or hold more
   *     than {@code Integer.MAX_VALUE - 8} samples or bins together
   */
  public static Packing concat(List<Packing> parts) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("no packings to join");
    }
    int capacity = parts.get(0).capacity;
    long samples = 0;
    long bins = 0;
    long totalLength = 0;
    for (Packing part : parts) {
      if (part.capacity != capacity) {
        throw new IllegalArgumentException(
            "packings of capacities " + capacity + " and " + part.capacity + " cannot be joined");
      }
      samples += part.sampleCount();
      bins += part.binCount();
      totalLength += part.totalLength;
    }
    if (samples > Integer.MAX_VALUE - 8 || bins > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          samples + " samples in " + bins + " bins: too many for one packing");
    }
    int[] binOf = new int[(int) samples];
    int[] binStart = new int[(int) bins + 1];
    int[] members = new int[(int) samples];
    int[] binLoad = new int[(int) bins];
    int sampleOffset = 0;
    int binOffset = 0;
    for (Packing part : parts) {
      for (int i = 0; i < part.binOf.length; i++) {
        binOf[sampleOffset + i] = binOffset + part.binOf[i];
        members[sampleOffset + i] = sampleOffset + part.members[i];
      }
      for (int b = 0; b < part.binLoad.length; b++) {
        binStart[binOffset + b] = sampleOffset + part.binStart[b];
        binLoad[binOffset + b] = part.binLoad[b];
      }
      sampleOffset += part.binOf.length;
      binOffset += part.binLoad.length;
    }
    binStart[binOffset] = sampleOffset;
    return new Packing(capacity, binOf, binStart, members, binLoad, totalLength);
  }

  /** The capacity every bin was packed to. */
  public int capacity() {
    return capacity;
  }

  /** How many samples were packed. */
  public int sampleCount() {
    return binOf.length;
  }

  /** How many bins (sequences) the samples went into. */
  public int binCount() {
    return binLoad.length;
  }

  /** The bin that sample {@code sample} (its index in the input) went to. */
  public int binOf(int sample) {
    return binOf[Objects.checkIndex(sample, binOf.length)];
  }

  /** The sum of the lengths in bin {@code bin}; at most {@link #capacity()}. */
  public int binLoad(int bin) {
    return binLoad[Objects.checkIndex(bin, binLoad.length)];
  }

  /** How many samples bin {@code bin} holds; at least one. */
  public int binSize(int bin) {
    Objects.checkIndex(bin, binLoad.length);
    return binStart[bin + 1] - binStart[bin];
  }

  /**
   * The {@code k}-th sample placed in bin {@code bin}. Samples are placed longest first, ties in
   * input order, so a bin's members run by descending length and then ascending index.
   */
  public int member(int bin, int k) {
    Objects.checkIndex(k, binSize(bin));
    return members[binStart[bin] + k];
  }

  /** A copy of bin {@code bin}'s samples, in placement order (see {@link #member(int, int)}). */
  public int[] members(int bin) {
    Objects.checkIndex(bin, binLoad.length);
    return Arrays.copyOfRange(members, binStart[bin], binStart[bin + 1]);
  }

  /** The sum of all lengths. */
  public long totalLength() {
    return totalLength;
  }

  /**
   * {@code ceil(totalLength / capacity)}: no packing of these samples uses fewer bins. It is a
   * bound, not the optimum, which may be larger.
   */
  public long lowerBound() {
    return (totalLength + capacity - 1) / capacity;
  }

  /** The share of bin space filled, {@code totalLength / (binCount * capacity)}; 0 with no bins. */
  public double fillRatio() {
    return binLoad.length == 0 ? 0 : totalLength / ((double) binLoad.length * capacity);
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "Packing[samples=%d, bins=%d, lowerBound=%d, capacity=%d, fill=%.4f]",
        sampleCount(),
        binCount(),
        lowerBound(),
        capacity,
        fillRatio());
  }
}
