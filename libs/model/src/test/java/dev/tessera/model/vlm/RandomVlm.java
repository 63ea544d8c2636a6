package dev.tessera.model.vlm;

import dev.tessera.engine.Backend;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipVisionTower;
import java.util.List;

/**
 * Small models with seeded random weights for tests: a 2-layer SigLIP-style tower (hidden 16,
 * 8-pixel patches of 32-pixel images: a 4×4 grid), the average-pool projector and {@code llm}.
 */
public final class RandomVlm {
  private RandomVlm() {}

  /**
   * @param pooled image tokens per side (1 to 4)
   * @param seed the first of the parts' seeds (decoder, tower, projector)
   * @param std the weights' standard deviation
   */
  public static VisionLanguageModel of(
      Backend backend, Qwen2Config llm, int pooled, long seed, double std) {
    SiglipVisionConfig vision =
        new SiglipVisionConfig(16, 32, 2, 2, 32, 8, 3, 1e-6, "gelu_pytorch_tanh", false);
    Qwen2Decoder decoder = new Qwen2Decoder(backend, llm, false);
    SiglipVisionTower tower = new SiglipVisionTower(backend, vision);
    AvgPoolProjector projector =
        new AvgPoolProjector(backend, vision.hiddenSize(), llm.hiddenSize(), 4, pooled);
    long next = seed;
    for (Parameters part :
        List.of(decoder.parameters(), tower.parameters(), projector.parameters())) {
      part.initialise(next++, std);
    }
    return new VisionLanguageModel(tower, projector, decoder);
  }
}
