package dev.tessera.data.packing;

import static dev.tessera.data.packing.PackingAlgorithm.BEST_FIT_DECREASING;
import static dev.tessera.data.packing.PackingAlgorithm.FIRST_FIT_DECREASING;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class BinPackerTest {

  private final Random random = new Random(0x5eed_0b1aL);

  /** Kinds of length distribution, from benign to adversarial for first fit. */
  enum Shape {
    UNIFORM,
    SMALL,
    LARGE,
    BIMODAL,
    CAPTIONS,
    FEW_DISTINCT,
    ALL_EQUAL,
    FULL
  }

  static int[] lengths(Shape shape, Random random, int n, int capacity) {
    int[] lengths = new int[n];
    int single = 1 + random.nextInt(capacity);
    int[] few = {1 + random.nextInt(capacity), 1 + random.nextInt(capacity), capacity};
    for (int i = 0; i < n; i++) {
      lengths[i] =
          switch (shape) {
            case UNIFORM -> 1 + random.nextInt(capacity);
            case SMALL -> 1 + random.nextInt(Math.max(1, capacity / 10));
            case LARGE -> capacity / 2 + random.nextInt(capacity - capacity / 2) + 1;
            case BIMODAL ->
                random.nextBoolean()
                    ? 1 + random.nextInt(Math.max(1, capacity / 8))
                    : Math.max(1, capacity - random.nextInt(Math.max(1, capacity / 3)));
            case CAPTIONS -> Math.min(capacity, captionLength(random));
            case FEW_DISTINCT -> few[random.nextInt(few.length)];
            case ALL_EQUAL -> single;
            case FULL -> capacity;
          };
    }
    return lengths;
  }

  /** 144 image + 3 layout tokens and a log-normal caption of 10..80 tokens, as in the benchmark. */
  static int captionLength(Random random) {
    long caption = Math.round(14 * Math.exp(0.6 * random.nextGaussian()));
    return 147 + (int) Math.max(10, Math.min(80, caption));
  }

  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void matchesTheNaiveAlgorithmOnRandomInputs(PackingAlgorithm algorithm) {
    int[] capacities = {1, 2, 3, 7, 10, 64, 100, 1000, 4096};
    int[] sizes = {0, 1, 2, 3, 5, 17, 100, 600, -1};
    for (Shape shape : Shape.values()) {
      for (int capacity : capacities) {
        for (int n : sizes) {
          int count = n >= 0 ? n : 1 + random.nextInt(2_000);
          assertMatchesNaive(lengths(shape, random, count, capacity), capacity, algorithm);
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void matchesTheNaiveAlgorithmOnCaptionSamplesAtSequenceLength4096(PackingAlgorithm algorithm) {
    // The literal exact fill recomputes everything for every choice: smaller inputs.
    int[] sizes =
        algorithm == PackingAlgorithm.EXACT_FILL
            ? new int[] {1_000, 4_000}
            : new int[] {1_000, 10_000, 20_000};
    for (int n : sizes) {
      assertMatchesNaive(lengths(Shape.CAPTIONS, random, n, 4096), 4096, algorithm);
    }
  }

  /**
   * On image-caption lengths, exact fill closes nearly every sequence to the last token: within a
   * few sequences of the lower bound, where first fit leaves a gap shorter than the shortest sample
   * in almost every one.
   */
  @Test
  void exactFillComesWithinAFewSequencesOfTheLowerBound() {
    for (int n : new int[] {2_000, 20_000, 100_000}) {
      int[] lengths = lengths(Shape.CAPTIONS, random, n, 4096);
      Packing fill = BinPacker.pack(lengths, 4096, PackingAlgorithm.EXACT_FILL);
      Packing firstFit = BinPacker.pack(lengths, 4096, PackingAlgorithm.FIRST_FIT_DECREASING);
      assertValid(fill, lengths, 4096, false);
      assertThat(fill.binCount())
          .as("%d samples, lower bound %d, first fit %d", n, fill.lowerBound(), firstFit.binCount())
          .isLessThanOrEqualTo((int) fill.lowerBound() + 2)
          .isLessThan(firstFit.binCount());
    }
  }

  /** Exact fill takes equal lengths in the interleaved (bit-reversed) order, bins full first. */
  @Test
  void exactFillTakesEqualLengthsInInterleavedOrder() {
    int[] lengths = new int[10];
    Arrays.fill(lengths, 3);
    Packing packing = BinPacker.pack(lengths, 10, PackingAlgorithm.EXACT_FILL);
    assertThat(packing.binCount()).isEqualTo(4);
    // The room (9 of 10 is the largest sum of 3s) exceeds twice the length until the bin holds
    // one sample, which comes from bit-reversed positions 0, 8, 4, 2, ...; the rest of each bin
    // are the lowest unplaced positions.
    assertThat(packing.members(0)).containsExactly(0, 1, 2);
    assertThat(packing.members(1)).containsExactly(3, 4, 8);
    assertThat(IntStream.range(0, 4).map(packing::binLoad)).containsExactly(9, 9, 9, 3);
    assertValid(packing, lengths, 10, false);
  }

  /** A comparison sort, per-room stacks in a tree map and a tree grown from one leaf. */
  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void fallbackPathsPackExactlyTheSame(PackingAlgorithm algorithm) {
    BinPacker.Tuning fallbacks = new BinPacker.Tuning(0, 0, 1);
    for (Shape shape : Shape.values()) {
      for (int capacity : new int[] {1, 5, 300, 4096}) {
        int[] lengths = lengths(shape, random, 1 + random.nextInt(800), capacity);
        Packing packing = BinPacker.pack(lengths, capacity, algorithm, fallbacks);
        assertValid(packing, lengths, capacity, algorithm != PackingAlgorithm.EXACT_FILL);
        assertThat(binOf(packing))
            .as("%s, capacity %d", shape, capacity)
            .isEqualTo(NaivePacking.pack(lengths, capacity, algorithm))
            .isEqualTo(binOf(BinPacker.pack(lengths, capacity, algorithm)));
      }
    }
  }

  /** Lengths spread over far more values than samples take the fallbacks without being told. */
  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void hugeCapacitiesAndWideLengthRangesArePackedExactly(PackingAlgorithm algorithm) {
    for (int capacity : new int[] {Integer.MAX_VALUE, 3_000_000}) {
      for (Shape shape : new Shape[] {Shape.UNIFORM, Shape.SMALL, Shape.BIMODAL, Shape.LARGE}) {
        assertMatchesNaive(lengths(shape, random, 500, capacity), capacity, algorithm);
      }
    }
  }

  @Test
  void firstFitFillsTheEarliestBinWithRoomAndBestFitTheTightest() {
    // Visited as 9, 7, 4, 4, 2. Rooms before the 2 arrives: 1, 3 and 2.
    int[] lengths = {2, 7, 9, 4, 4};
    Packing ffd = BinPacker.pack(lengths, 10, FIRST_FIT_DECREASING);
    assertThat(binOf(ffd)).containsExactly(1, 1, 0, 2, 2);
    assertThat(ffd.members(1)).containsExactly(1, 0);
    assertThat(ffd.binLoad(1)).isEqualTo(9);

    Packing bfd = BinPacker.pack(lengths, 10, BEST_FIT_DECREASING);
    assertThat(binOf(bfd)).containsExactly(2, 1, 0, 2, 2);
    assertThat(bfd.members(2)).containsExactly(3, 4, 0);
    assertThat(bfd.binLoad(2)).isEqualTo(10);
  }

  @Test
  void bestFitBreaksTiesTowardsTheBinThatReceivedASampleLast() {
    // 6 and 6 open bins 0 and 1 with room 4 each; bin 1 was touched last, so the 3 goes there.
    Packing bfd = BinPacker.pack(new int[] {6, 6, 3}, 10, BEST_FIT_DECREASING);
    assertThat(binOf(bfd)).containsExactly(0, 1, 1);
    Packing ffd = BinPacker.pack(new int[] {6, 6, 3}, 10, FIRST_FIT_DECREASING);
    assertThat(binOf(ffd)).containsExactly(0, 1, 0);
  }

  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void noSamplesGiveNoBins(PackingAlgorithm algorithm) {
    Packing packing = BinPacker.pack(new int[0], 4096, algorithm);
    assertThat(packing.sampleCount()).isZero();
    assertThat(packing.binCount()).isZero();
    assertThat(packing.totalLength()).isZero();
    assertThat(packing.lowerBound()).isZero();
    assertThat(packing.fillRatio()).isZero();
    assertThat(packing.capacity()).isEqualTo(4096);
  }

  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void oneSampleGetsOneBin(PackingAlgorithm algorithm) {
    Packing packing = BinPacker.pack(new int[] {100}, 4096, algorithm);
    assertThat(packing.binCount()).isOne();
    assertThat(packing.binOf(0)).isZero();
    assertThat(packing.members(0)).containsExactly(0);
    assertThat(packing.binLoad(0)).isEqualTo(100);
    assertThat(packing.lowerBound()).isOne();
    assertThat(packing.fillRatio()).isEqualTo(100 / 4096.0);
  }

  @ParameterizedTest
  @EnumSource(
      value = PackingAlgorithm.class,
      names = {"FIRST_FIT_DECREASING", "BEST_FIT_DECREASING"})
  void equalLengthsFillBinsInInputOrder(PackingAlgorithm algorithm) {
    int[] lengths = new int[10];
    Arrays.fill(lengths, 3);
    Packing packing = BinPacker.pack(lengths, 10, algorithm);
    assertThat(packing.binCount()).isEqualTo(4);
    assertThat(binOf(packing)).containsExactly(0, 0, 0, 1, 1, 1, 2, 2, 2, 3);
    assertThat(packing.members(3)).containsExactly(9);
    assertThat(packing.binLoad(0)).isEqualTo(9);
    assertValid(packing, lengths, 10);
  }

  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void samplesAsLongAsTheCapacityGetABinEach(PackingAlgorithm algorithm) {
    int[] lengths = {5, 2, 5, 3, 5};
    Packing packing = BinPacker.pack(lengths, 5, algorithm);
    // The three full samples first, in input order; then 3 and 2 share a bin.
    assertThat(binOf(packing)).containsExactly(0, 3, 1, 3, 2);
    assertThat(packing.binCount()).isEqualTo(packing.lowerBound()).isEqualTo(4);
    assertThat(packing.fillRatio()).isEqualTo(1.0);

    int[] ones = new int[7];
    Arrays.fill(ones, 1);
    Packing unit = BinPacker.pack(ones, 1, algorithm);
    assertThat(binOf(unit)).containsExactly(0, 1, 2, 3, 4, 5, 6);
  }

  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void packingIsDeterministicAndLeavesTheInputAlone(PackingAlgorithm algorithm) {
    int[] lengths = lengths(Shape.CAPTIONS, random, 5_000, 4096);
    int[] copy = lengths.clone();
    Packing first = BinPacker.pack(lengths, 4096, algorithm);
    Packing second = BinPacker.pack(lengths, 4096, algorithm);
    assertThat(lengths).isEqualTo(copy);
    assertThat(binOf(first)).isEqualTo(binOf(second));
    assertThat(first.toString()).isEqualTo(second.toString());
  }

  @Test
  void accessorsCheckTheirIndicesAndMembersReturnsACopy() {
    Packing packing = BinPacker.pack(new int[] {4, 4, 4}, 8, FIRST_FIT_DECREASING);
    assertThat(packing.binSize(0)).isEqualTo(2);
    int[] members = packing.members(0);
    members[0] = 99;
    assertThat(packing.member(0, 0)).isZero();
    assertThatThrownBy(() -> packing.member(0, 2)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> packing.member(1, 1)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> packing.member(2, 0)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> packing.binOf(3)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> packing.binOf(-1)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> packing.binLoad(2)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> packing.binSize(-1)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> packing.members(2)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThat(packing)
        .hasToString("Packing[samples=3, bins=2, lowerBound=2, capacity=8, fill=0.7500]");
  }

  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void lengthsOutsideOneToCapacityAreRejectedByIndexAndValue(PackingAlgorithm algorithm) {
    assertThatThrownBy(() -> BinPacker.pack(new int[] {3, 5, 0}, 10, algorithm))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("lengths[2] = 0 is outside 1..10");
    assertThatThrownBy(() -> BinPacker.pack(new int[] {-4}, 10, algorithm))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("lengths[0] = -4 is outside 1..10");
    assertThatThrownBy(() -> BinPacker.pack(new int[] {10, 11, 12}, 10, algorithm))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("lengths[1] = 11 is outside 1..10");
  }

  @ParameterizedTest
  @EnumSource(PackingAlgorithm.class)
  void capacityBelowOneIsRejected(PackingAlgorithm algorithm) {
    assertThatThrownBy(() -> BinPacker.pack(new int[] {1}, 0, algorithm))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("capacity must be at least 1, got 0");
    assertThatThrownBy(() -> BinPacker.pack(new int[0], -5, algorithm))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("capacity must be at least 1, got -5");
  }

  @Test
  void nullArgumentsAreRejected() {
    assertThatThrownBy(() -> BinPacker.pack(null, 10, FIRST_FIT_DECREASING))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("lengths");
    assertThatThrownBy(() -> BinPacker.pack(new int[] {1}, 10, null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("algorithm");
  }

  private static void assertMatchesNaive(int[] lengths, int capacity, PackingAlgorithm algorithm) {
    Packing packing = BinPacker.pack(lengths, capacity, algorithm);
    assertValid(packing, lengths, capacity, algorithm != PackingAlgorithm.EXACT_FILL);
    assertThat(binOf(packing))
        .as("%s of %s at capacity %d", algorithm, Arrays.toString(lengths), capacity)
        .isEqualTo(NaivePacking.pack(lengths, capacity, algorithm));
  }

  static int[] binOf(Packing packing) {
    return IntStream.range(0, packing.sampleCount()).map(packing::binOf).toArray();
  }

  /**
   * Everything a packing promises, whichever algorithm made it: every sample in exactly one bin, no
   * bin over capacity, loads and sizes that add up, members longest first (ties by index), bins
   * numbered in the order they were opened, and the derived figures.
   */
  static void assertValid(Packing packing, int[] lengths, int capacity) {
    assertValid(packing, lengths, capacity, true);
  }

  /**
   * As above; {@code binsOpenInVisitingOrder} is false for exact fill, which may open a bin with a
   * pair shorter than a sample that goes into a later bin.
   */
  static void assertValid(
      Packing packing, int[] lengths, int capacity, boolean binsOpenInVisitingOrder) {
    int n = lengths.length;
    assertThat(packing.sampleCount()).isEqualTo(n);
    assertThat(packing.capacity()).isEqualTo(capacity);
    long total = Arrays.stream(lengths).asLongStream().sum();
    assertThat(packing.totalLength()).isEqualTo(total);
    assertThat(packing.lowerBound())
        .isEqualTo((total + capacity - 1) / capacity)
        .isLessThanOrEqualTo(packing.binCount());
    if (packing.binCount() > 0) {
      assertThat(packing.fillRatio())
          .isEqualTo(total / ((double) packing.binCount() * capacity))
          .isLessThanOrEqualTo(1.0);
    }

    int[] seen = new int[n];
    int sizes = 0;
    int previousFirst = -1;
    for (int bin = 0; bin < packing.binCount(); bin++) {
      int[] members = packing.members(bin);
      assertThat(members).hasSize(packing.binSize(bin)).isNotEmpty();
      sizes += members.length;
      long load = 0;
      for (int k = 0; k < members.length; k++) {
        int sample = members[k];
        assertThat(packing.member(bin, k)).isEqualTo(sample);
        assertThat(packing.binOf(sample)).isEqualTo(bin);
        seen[sample]++;
        load += lengths[sample];
        if (k > 0) {
          assertThat(visitedBefore(lengths, members[k - 1], sample)).isTrue();
        }
      }
      assertThat(packing.binLoad(bin)).isEqualTo(load).isLessThanOrEqualTo(capacity);
      // A bin is opened by its first member, so first members follow the visiting order.
      if (previousFirst >= 0 && binsOpenInVisitingOrder) {
        assertThat(visitedBefore(lengths, previousFirst, members[0])).isTrue();
      }
      previousFirst = members[0];
    }
    assertThat(sizes).isEqualTo(n);
    assertThat(IntStream.of(seen).filter(count -> count != 1)).isEmpty();
  }

  private static boolean visitedBefore(int[] lengths, int a, int b) {
    return lengths[a] > lengths[b] || lengths[a] == lengths[b] && a < b;
  }

  @Test
  void concatenatedPackingsNumberTheLaterPartsSamplesAndBinsAfterTheEarlierOnes() {
    int capacity = 100;
    int[] first = lengths(Shape.UNIFORM, random, 40, capacity);
    int[] second = lengths(Shape.SMALL, random, 25, capacity);
    Packing a = BinPacker.pack(first, capacity, FIRST_FIT_DECREASING);
    Packing b = BinPacker.pack(second, capacity, BEST_FIT_DECREASING);

    Packing joined = Packing.concat(List.of(a, b));

    assertThat(joined.sampleCount()).isEqualTo(65);
    assertThat(joined.binCount()).isEqualTo(a.binCount() + b.binCount());
    assertThat(joined.totalLength()).isEqualTo(a.totalLength() + b.totalLength());
    for (int bin = 0; bin < a.binCount(); bin++) {
      assertThat(joined.members(bin)).isEqualTo(a.members(bin));
      assertThat(joined.binLoad(bin)).isEqualTo(a.binLoad(bin));
    }
    for (int bin = 0; bin < b.binCount(); bin++) {
      int[] expected = Arrays.stream(b.members(bin)).map(s -> s + 40).toArray();
      assertThat(joined.members(a.binCount() + bin)).isEqualTo(expected);
      assertThat(joined.binLoad(a.binCount() + bin)).isEqualTo(b.binLoad(bin));
    }
    for (int sample = 0; sample < 65; sample++) {
      int expected = sample < 40 ? a.binOf(sample) : a.binCount() + b.binOf(sample - 40);
      assertThat(joined.binOf(sample)).isEqualTo(expected);
    }
  }

  @Test
  void packingsOfDifferentCapacitiesAreNotJoined() {
    Packing a = BinPacker.pack(new int[] {3, 4}, 10, FIRST_FIT_DECREASING);
    Packing b = BinPacker.pack(new int[] {3, 4}, 12, FIRST_FIT_DECREASING);
    assertThatThrownBy(() -> Packing.concat(List.of(a, b)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("capacities 10 and 12");
    assertThatThrownBy(() -> Packing.concat(List.of()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
