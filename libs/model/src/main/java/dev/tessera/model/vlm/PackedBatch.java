package dev.tessera.model.vlm;

import dev.tessera.data.packed.PackedLayout;
import dev.tessera.data.packed.PackedSample;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.model.qwen2.Qwen2Batch;
import java.util.Arrays;
import java.util.List;

/**
 * Packed sequences (see {@code docs/formats.md}) as one decoder batch, a row per sequence: the
 * visual positions marked for the projector's features, and the next-token targets the attention
 * mode calls for.
 *
 * <ul>
 *   <li><b>continuous</b> (Open-Qwen2VL's training): positions {@code 0..L-1} along the row and one
 *       causal mask over it; every position whose next token is a loss target (loss mask 1)
 *       predicts it — including the next sample's {@code <s>} after an {@code <|im_end|>}, as the
 *       reference trains.
 *   <li><b>document</b>: positions and attention restart at every sample; the last token of a
 *       sample predicts nothing (the next sample's {@code <s>} is not its context), so the targets
 *       are the same less one per sample boundary.
 * </ul>
 *
 * Padding (from the sequence's length on) neither predicts nor is predicted; in document mode it is
 * a segment of its own, so it attends to no sample.
 *
 * @param batch the decoder batch; ids at visual positions hold the pad id (they are not looked up)
 * @param targets how many positions carry a target: the denominator of a mean over real tokens
 * @param images images in row order, as the projector must receive their features
 */
public record PackedBatch(Qwen2Batch batch, long targets, int images) {

  /**
   * Lays {@code sequences} out as rows.
   *
   * @throws IllegalArgumentException when a sequence does not match the layout
   */
  public static PackedBatch of(
      List<PackedSequence> sequences, PackedLayout layout, AttentionMask mask) {
    int rows = sequences.size();
    int tokens = layout.sequenceLength();
    int[] ids = new int[rows * tokens];
    int[] positions = new int[rows * tokens];
    int[] targets = new int[rows * tokens];
    boolean[] visual = new boolean[rows * tokens];
    int[][] sampleStarts = mask == AttentionMask.DOCUMENT ? new int[rows][] : null;
    Arrays.fill(targets, CrossEntropy.IGNORE_INDEX);
    long targetCount = 0;
    int images = 0;
    for (int r = 0; r < rows; r++) {
      PackedSequence sequence = sequences.get(r);
      List<String> problems = sequence.problems(layout);
      if (!problems.isEmpty()) {
        throw new IllegalArgumentException(
            "packed sequence " + sequence.index() + " is malformed: " + problems.get(0));
      }
      int base = r * tokens;
      int length = sequence.length();
      int[] row = sequence.tokens();
      boolean[] startsHere = new boolean[tokens + 1];
      for (PackedSample sample : sequence.samples()) {
        startsHere[sample.offset()] = true;
      }
      for (int p = 0; p < tokens; p++) {
        boolean isImage = row[p] == layout.imageTokenId();
        visual[base + p] = isImage;
        ids[base + p] = isImage ? layout.padTokenId() : row[p];
        positions[base + p] = mask == AttentionMask.DOCUMENT ? sequence.positions()[p] : p;
        int next = p + 1;
        boolean predicts =
            next < length
                && sequence.lossMask()[next] == 1
                && !(mask == AttentionMask.DOCUMENT && startsHere[next]);
        if (predicts) {
          targets[base + p] = row[next];
          targetCount++;
        }
      }
      images += sequence.samples().size();
      if (sampleStarts != null) {
        int samples = sequence.samples().size();
        boolean padded = length < tokens;
        int[] starts = new int[samples + (padded ? 1 : 0)];
        for (int s = 0; s < samples; s++) {
          starts[s] = sequence.samples().get(s).offset();
        }
        if (padded) {
          starts[samples] = length;
        }
        sampleStarts[r] = starts;
      }
    }
    Qwen2Batch batch =
        new Qwen2Batch(rows, tokens, ids, positions, targets, mask, sampleStarts, null, visual);
    return new PackedBatch(batch, targetCount, images);
  }
}
