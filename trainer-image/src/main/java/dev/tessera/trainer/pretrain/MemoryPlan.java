package dev.tessera.trainer.pretrain;

import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Bytes one rank needs to train Open-Qwen2VL in bf16 mixed precision: bf16 weights of every part,
 * fp32 master weights, gradients and AdamW moments of the trained parts (projector and decoder),
 * sharded over the ranks by ZeRO stage (1: master weights and moments; 2: gradients too), and the
 * activations of one micro-batch (with per-layer checkpointing: each layer's input plus one layer's
 * working set; without: every layer's). The classifier runs in chunks of 256 positions, the frozen
 * tower forward only. A margin of 10% stands for the allocator and workspaces.
 *
 * @param components bytes by component
 * @param total their sum, margin included
 */
public record MemoryPlan(Map<String, Long> components, long total) {
  /** Positions of the classifier's chunks (as the decoder computes the loss). */
  static final int CLASSIFIER_CHUNK = 256;

  /** Mean caption tokens per sample, for the image count of a packed sequence. */
  static final int MEAN_TEXT_TOKENS = 33;

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
    long visionParams = ModelParameters.siglipVision(vision).count();
    long projectorParams = ModelParameters.projector(vision.hiddenSize(), llm.hiddenSize()).count();
    long trained = llmParams + projectorParams;
    long optimizerShards = zeroStage >= 1 ? ranks : 1;
    long gradientShards = zeroStage >= 2 ? ranks : 1;

    long tokens = (long) microBatch * sequenceLength;
    long h = llm.hiddenSize();
    long perLayer = 6 * h + 2 * llm.kvDim() + 3L * llm.intermediateSize();
    long layers = llm.numHiddenLayers();
    long activations =
        checkpointing ? 2 * tokens * (layers * h + perLayer) : 2 * tokens * layers * (h + perLayer);
    long classifier = 2L * 4 * CLASSIFIER_CHUNK * llm.vocabSize() + 2L * 4 * tokens * h;
    long images = Math.max(1, tokens / (imageTokens + MEAN_TEXT_TOKENS));
    long patches = vision.numPatches();
    long towerForward =
        2 * images * patches * (2L * vision.hiddenSize() + vision.intermediateSize());

    Map<String, Long> parts = new LinkedHashMap<>();
    parts.put("bf16 weights (all parts)", 2 * (llmParams + visionParams + projectorParams));
    parts.put("fp32 master weights", 4 * trained / optimizerShards);
    parts.put("AdamW moments", 8 * trained / optimizerShards);
    parts.put("fp32 gradients", 4 * trained / gradientShards);
    parts.put("decoder activations", activations);
    parts.put("classifier chunk and final hidden", classifier);
    parts.put("vision tower forward", towerForward);
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
