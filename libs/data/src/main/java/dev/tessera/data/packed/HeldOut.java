package dev.tessera.data.packed;

import java.util.Arrays;

/**
 * A packed set split into the sequences a run trains on and a few it holds out to measure the loss
 * on data the model never saw. Which sequences are held out depends only on the set's size and how
 * many: not on the run's seed or ranks, so runs that differ in those are measured on the same
 * sequences. They are drawn spread over the set (not its last ones: the packer writes the fullest
 * bins first, so the end of a set is not like the rest).
 *
 * @param training the sequences to train on, ascending
 * @param evaluation the held-out sequences, ascending
 */
public record HeldOut(int[] training, int[] evaluation) {
  /** Seed of the draw: fixed, so that the split belongs to the set, not to a run. */
  static final long SEED = 0x5EED_0F_4E1DL;

  /**
   * Holds out {@code heldOut} of the set's {@code sequenceCount} sequences.
   *
   * @throws IllegalArgumentException when nothing would be left to train on, or heldOut < 0
   */
  public static HeldOut split(long sequenceCount, int heldOut) {
    if (heldOut < 0 || heldOut >= sequenceCount) {
      throw new IllegalArgumentException(
          "cannot hold out "
              + heldOut
              + " of "
              + sequenceCount
              + " sequences: at least one must be left to train on");
    }
    int count = Math.toIntExact(sequenceCount);
    int[] drawn = PackedLoader.permutation(SEED, 0, count);
    int[] evaluation = Arrays.copyOf(drawn, heldOut);
    int[] training = Arrays.copyOfRange(drawn, heldOut, count);
    Arrays.sort(evaluation);
    Arrays.sort(training);
    return new HeldOut(training, evaluation);
  }
}
