package dev.tessera.model.qwen2;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.AttentionMask;
import java.util.Objects;

/**
 * One training or scoring batch for the decoder: B packed rows of T tokens.
 *
 * @param rows B
 * @param tokens T
 * @param ids [B*T] token ids; positions where {@code imageRows} holds visual features may hold any
 *     id (they are not looked up)
 * @param positions [B*T] RoPE positions (restarting per sample in document mode)
 * @param targets [B*T] next-token target of each position, or -100 for no loss
 * @param mask attention mode
 * @param sampleStarts [B][samples] start of each sample per row (see {@code Attention}); required
 *     for document masks
 * @param inputEmbeds [B*T, hidden] features spliced in at {@code useEmbeds} positions (the
 *     projector's output), or null (then the model that owns the images fills them in)
 * @param useEmbeds [B*T] where {@code inputEmbeds} replace the token embedding, or null
 */
public record Qwen2Batch(
    int rows,
    int tokens,
    int[] ids,
    int[] positions,
    int[] targets,
    AttentionMask mask,
    int[][] sampleStarts,
    Tensor inputEmbeds,
    boolean[] useEmbeds) {

  public Qwen2Batch {
    Objects.requireNonNull(mask, "mask");
    int n = rows * tokens;
    require("ids", ids.length, n);
    require("positions", positions.length, n);
    require("targets", targets.length, n);
    if (inputEmbeds != null && useEmbeds == null) {
      throw new IllegalArgumentException("inputEmbeds needs useEmbeds to say where they go");
    }
    if (useEmbeds != null) {
      require("useEmbeds", useEmbeds.length, n);
    }
  }

  /** A text-only batch with positions 0..T-1 per row and a continuous mask. */
  public static Qwen2Batch text(int rows, int tokens, int[] ids, int[] targets) {
    int[] positions = new int[rows * tokens];
    for (int i = 0; i < positions.length; i++) {
      positions[i] = i % tokens;
    }
    return new Qwen2Batch(
        rows, tokens, ids, positions, targets, AttentionMask.CONTINUOUS, null, null, null);
  }

  private static void require(String name, int actual, int expected) {
    if (actual != expected) {
      throw new IllegalArgumentException(
          name + " has " + actual + " entries, expected rows * tokens = " + expected);
    }
  }
}
