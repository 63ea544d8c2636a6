package dev.tessera.model.vlm;

import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.text.CaptionLayout;
import java.util.Arrays;
import java.util.List;

/**
 * Fine-tuning examples (from {@code ChatTemplate}) as one decoder batch: a row per example, right-
 * padded to the longest (the reference pads, it does not pack, for fine-tuning), each image
 * sentinel expanded to the projector's visual positions, and next-token targets where the label is
 * supervised — the assistant turns only. An example longer than {@code maxLength} is cut at the end
 * (its image, at the start, is kept).
 *
 * @param batch the decoder batch; ids at visual positions and padding hold the pad id
 * @param targets positions with a target, the denominator of the mean loss
 * @param images images in row order
 * @param truncated examples cut to {@code maxLength}
 * @param realTokens positions that are not padding
 */
public record ConversationBatch(
    Qwen2Batch batch, long targets, int images, int truncated, long realTokens) {

  public static ConversationBatch of(
      List<CaptionLayout.Sample> examples, int imageTokens, int padId, int maxLength) {
    int rows = examples.size();
    int[][] expandedIds = new int[rows][];
    int[][] expandedLabels = new int[rows][];
    int longest = 1;
    int truncated = 0;
    int images = 0;
    for (int r = 0; r < rows; r++) {
      CaptionLayout.Sample example = examples.get(r);
      int sentinels = 0;
      for (int id : example.ids()) {
        sentinels += id == CaptionLayout.IMAGE ? 1 : 0;
      }
      images += sentinels;
      int length = example.ids().length + sentinels * (imageTokens - 1);
      int[] ids = new int[length];
      int[] labels = new int[length];
      int at = 0;
      for (int i = 0; i < example.ids().length; i++) {
        int id = example.ids()[i];
        if (id == CaptionLayout.IMAGE) {
          Arrays.fill(ids, at, at + imageTokens, CaptionLayout.IMAGE);
          Arrays.fill(labels, at, at + imageTokens, CaptionLayout.IGNORE);
          at += imageTokens;
        } else {
          ids[at] = id;
          labels[at] = example.labels()[i];
          at++;
        }
      }
      if (length > maxLength) {
        // Visual positions must stay whole: the image comes first, so cutting the end is safe
        // unless the image itself passes the limit.
        for (int p = maxLength; p < length; p++) {
          if (ids[p] == CaptionLayout.IMAGE) {
            throw new IllegalArgumentException(
                "example " + r + ": its image ends past --max-length " + maxLength);
          }
        }
        ids = Arrays.copyOf(ids, maxLength);
        labels = Arrays.copyOf(labels, maxLength);
        truncated++;
      }
      expandedIds[r] = ids;
      expandedLabels[r] = labels;
      longest = Math.max(longest, ids.length);
    }

    int tokens = longest;
    int[] ids = new int[rows * tokens];
    int[] positions = new int[rows * tokens];
    int[] targets = new int[rows * tokens];
    boolean[] visual = new boolean[rows * tokens];
    Arrays.fill(ids, padId);
    Arrays.fill(targets, CrossEntropy.IGNORE_INDEX);
    long targetCount = 0;
    long realTokens = 0;
    for (int r = 0; r < rows; r++) {
      int base = r * tokens;
      int[] row = expandedIds[r];
      realTokens += row.length;
      int[] labels = expandedLabels[r];
      for (int p = 0; p < tokens; p++) {
        positions[base + p] = p;
        if (p >= row.length) {
          continue;
        }
        boolean isImage = row[p] == CaptionLayout.IMAGE;
        visual[base + p] = isImage;
        ids[base + p] = isImage ? padId : row[p];
        if (p + 1 < row.length && labels[p + 1] != CaptionLayout.IGNORE) {
          targets[base + p] = labels[p + 1];
          targetCount++;
        }
      }
    }
    Qwen2Batch batch =
        new Qwen2Batch(
            rows, tokens, ids, positions, targets, AttentionMask.CONTINUOUS, null, null, visual);
    return new ConversationBatch(batch, targetCount, images, truncated, realTokens);
  }
}
