package dev.tessera.trainer.pretrain;

import dev.tessera.data.packed.PackedLayout;
import dev.tessera.engine.Backend;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipVisionTower;
import dev.tessera.model.vlm.AvgPoolProjector;
import dev.tessera.model.vlm.VisionLanguageModel;

/**
 * {@code --model-config tiny}: the Open-Qwen2VL architecture at a size that trains on two CPU cores
 * — a 2-layer SigLIP-style tower on 8-pixel patches, the average-pool projector, and a 2-layer
 * Qwen2-style decoder with tied embeddings over the data's whole vocabulary. The projector pools to
 * the k×k grid the packed data was made for (k² image tokens), and the tower's patch grid is at
 * least k on a side.
 */
public final class TinyPreset {
  static final int PATCH = 8;
  static final int VISION_HIDDEN = 64;
  static final int HIDDEN = 64;

  private TinyPreset() {}

  /**
   * The side of the pooled grid for {@code imageTokens} visual tokens.
   *
   * @throws IllegalArgumentException when the count is not a square
   */
  public static int pooledSide(int imageTokens) {
    int side = (int) Math.round(Math.sqrt(imageTokens));
    if (side * side != imageTokens) {
      throw new IllegalArgumentException(
          "the packed data has "
              + imageTokens
              + " image tokens per image; the average-pool projector needs a square (k×k)");
    }
    return side;
  }

  public static VisionLanguageModel build(Backend backend, PackedLayout layout) {
    return build(backend, layout, null, null);
  }

  /**
   * The model for {@code layout}: the tiny decoder and tower unless configurations are given (from
   * {@code --init-llm} and {@code --init-vision} directories), and the projector between them.
   *
   * @throws IllegalArgumentException when the data does not fit the model: a vocabulary larger than
   *     the decoder's embedding, or a pooled grid larger than the tower's patch grid
   */
  public static VisionLanguageModel build(
      Backend backend, PackedLayout layout, Qwen2Config llm, SiglipVisionConfig vision) {
    int pooled = pooledSide(layout.imageTokens());
    if (vision == null) {
      int grid = Math.max(4, pooled);
      vision =
          new SiglipVisionConfig(
              VISION_HIDDEN,
              2 * VISION_HIDDEN,
              2,
              4,
              PATCH * grid,
              PATCH,
              3,
              1e-6,
              "gelu_pytorch_tanh",
              false);
    }
    if (llm == null) {
      llm =
          new Qwen2Config(
              HIDDEN,
              2 * HIDDEN,
              2,
              4,
              2,
              layout.vocabularySize(),
              1e-6,
              10000.0,
              true,
              layout.sequenceLength(),
              "float32");
    }
    if (layout.vocabularySize() > llm.vocabSize()) {
      throw new IllegalArgumentException(
          "the packed data's tokenizer has "
              + layout.vocabularySize()
              + " ids but the decoder embeds only "
              + llm.vocabSize());
    }
    if (vision.numHiddenLayers() < 2) {
      throw new IllegalArgumentException(
          "the vision tower has "
              + vision.numHiddenLayers()
              + " layer; Open-Qwen2VL reads the second-to-last, so it needs at least 2");
    }
    if (pooled > vision.patchesPerSide()) {
      throw new IllegalArgumentException(
          "the packed data has "
              + layout.imageTokens()
              + " image tokens per image ("
              + pooled
              + "x"
              + pooled
              + ") but the vision tower's patch grid is only "
              + vision.patchesPerSide()
              + "x"
              + vision.patchesPerSide());
    }
    return new VisionLanguageModel(
        new SiglipVisionTower(backend, vision),
        new AvgPoolProjector(
            backend, vision.hiddenSize(), llm.hiddenSize(), vision.patchesPerSide(), pooled),
        new Qwen2Decoder(backend, llm, false));
  }
}
