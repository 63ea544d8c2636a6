package dev.tessera.trainer.pretrain;

import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Bytes one rank needs to train Open-Qwen2VL on the CUDA backend with bf16 GEMMs, as Tessera lays
 * memory out (gpu-check compares the decoder's part with the allocator's peak on a real card):
 *
 * <ul>
 *   <li>fp32 weights of every part on every rank, and a bf16 copy of each for the GEMMs (written by
 *       AdamW for the trained parts, made once per step for the frozen tower);
 *   <li>fp32 gradients of the trained parts (projector and decoder), whole on every rank: ZeRO-2
 *       reduces each gradient to its owner only, which saves traffic, not memory;
 *   <li>AdamW moments of the trained parts, sharded over the ranks from ZeRO-1 on;
 *   <li>the decoder's activations of one micro-batch: per layer and token the fp32 input, queries,
 *       keys, values, attention output (with its bf16 copy), residual sum, gate and up; the
 *       normalised inputs and the MLP activation in bf16 alone (they only feed GEMMs). With
 *       per-layer checkpointing, each layer's input plus one layer's set;
 *   <li>one layer's backward working set, the classifier's chunk (fp32 logits and bf16 gradients of
 *       1024 positions), the frozen tower's forward, and a 10% margin for the allocator's rounding
 *       and library workspaces.
 * </ul>
 *
 * @param components bytes by component
 * @param total their sum, margin included
 */
public record MemoryPlan(Map<String, Long> components, long total) {
  /** Positions of the classifier's chunks on a device (as the decoder computes the loss). */
  static final int CLASSIFIER_CHUNK = 1024;

  /** Mean caption tokens per sample, for the image count of a packed sequence. */
  static final int MEAN_TEXT_TOKENS = 33;

  /**
   * The plan for the decoder, the projector and the tower together; {@code vision} null plans the
   * decoder alone (as gpu-check trains it).
   */
  public static MemoryPlan of(
      Qwen2Config llm,
      SiglipVisionConfig vision,
      int imageTokens,
      int sequenceLength,
      int microBatch,
      int ranks,
      int zeroStage,
      boolean checkpointing) {
    if (zeroStage < 0 || zeroStage > 2 || ranks < 1 || microBatch < 1) {
      throw new IllegalArgumentException("need ZeRO stage 0..2, ranks >= 1 and micro-batch >= 1");
    }
    long llmParams = ModelParameters.qwen2(llm).count();
    long visionParams = vision == null ? 0 : ModelParameters.siglipVision(vision).count();
    long projectorParams =
        vision == null
            ? 0
            : ModelParameters.projector(vision.hiddenSize(), llm.hiddenSize()).count();
    long all = llmParams + visionParams + projectorParams;
    long trained = llmParams + projectorParams;
    long optimizerShards = zeroStage >= 1 ? ranks : 1;

    long tokens = (long) microBatch * sequenceLength;
    long h = llm.hiddenSize();
    long qd = (long) llm.numAttentionHeads() * llm.headDim();
    long kv = llm.kvDim();
    long f = llm.intermediateSize();
    long layers = llm.numHiddenLayers();
    // Bytes per token kept by one layer's forward for its backward (see the class comment).
    long stored =
        4 * h
            + 2 * h
            + 4 * qd
            + 8 * kv
            + 6 * qd
            + 4 * h
            + 2 * h
            + 8 * f
            + 2 * f
            + 4L * llm.numAttentionHeads()
            + 8;
    long input = 4 * h;
    long activations =
        checkpointing ? tokens * (layers * input + stored) : tokens * layers * stored;
    // One layer's backward: dAct (fp32), dGate and dUp (bf16), the norms' and the attention's
    // gradients, bf16 copies of the attention's inputs and the split dK/dV partial sums.
    long group = llm.numAttentionHeads() / llm.numKeyValueHeads();
    long working = tokens * (8 * f + 8 * h + 18 * qd + (16 + 8 * group) * kv);
    long classifier =
        (4L + 2L) * Math.min(CLASSIFIER_CHUNK, tokens) * llm.vocabSize() + 3 * 4 * tokens * h;

    Map<String, Long> parts = new LinkedHashMap<>();
    parts.put("fp32 weights (all parts)", 4 * all);
    parts.put("bf16 weight copies for the GEMMs", 2 * all);
    parts.put("fp32 gradients", 4 * trained);
    parts.put("AdamW moments", 8 * trained / optimizerShards);
    parts.put("decoder activations", activations);
    parts.put("decoder backward working set", working);
    parts.put("classifier chunk and final hidden", classifier);
    if (vision != null) {
      long images = Math.max(1, tokens / (imageTokens + MEAN_TEXT_TOKENS));
      long patches = vision.numPatches();
      parts.put(
          "vision tower forward",
          4 * images * patches * (2L * vision.hiddenSize() + vision.intermediateSize()));
    }
    long sum = parts.values().stream().mapToLong(Long::longValue).sum();
    long margin = sum / 10;
    parts.put("margin (allocator, workspaces)", margin);
    return new MemoryPlan(parts, sum + margin);
  }

  /** Whether the plan fits a device of {@code bytes}. */
  public boolean fits(long bytes) {
    return total <= bytes;
  }
}
