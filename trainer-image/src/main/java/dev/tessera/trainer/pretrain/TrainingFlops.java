package dev.tessera.trainer.pretrain;

import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;

/**
 * Model FLOPs of a training step, for MFU: what the model needs, not what the kernels happen to do
 * (PaLM's definition). Per decoder position, 6 × the decoder layers' matrix parameters (forward and
 * backward of every projection) plus 6 × layers × row length × hidden for causal attention; per
 * position with a target, 6 × the classifier's parameters (positions without one, such as image
 * placeholders, need no logits and get none); per image, the frozen tower's forward (2 × its matrix
 * parameters per patch plus attention) and the projector's forward and backward.
 */
public final class TrainingFlops {
  private TrainingFlops() {}

  /**
   * FLOPs of one step over {@code rows} rows of {@code rowLength} positions, {@code targets} of
   * them with a target, holding {@code images} images.
   */
  public static double step(
      Qwen2Config llm,
      SiglipVisionConfig vision,
      int tokensPerImage,
      long rows,
      int rowLength,
      long targets,
      long images) {
    double decoder = decoderStep(llm, rows, rowLength, targets);
    double hidden = llm.hiddenSize();
    double vHidden = vision.hiddenSize();
    double patches = vision.numPatches();
    double vLayer = 4 * vHidden * vHidden + 2 * vHidden * vision.intermediateSize();
    double patchEmbed = vHidden * vision.numChannels() * vision.patchSize() * vision.patchSize();
    double tower =
        2 * (vision.numHiddenLayers() * vLayer + patchEmbed) * patches
            + 4.0 * vision.numHiddenLayers() * patches * patches * vHidden;
    double projector = 6 * (vHidden * hidden + hidden * hidden) * tokensPerImage;
    return decoder + images * (tower + projector);
  }

  /**
   * FLOPs of the decoder alone (forward and backward) over {@code rows} rows of {@code rowLength},
   * {@code targets} positions of them with a target (the classifier's).
   */
  public static double decoderStep(Qwen2Config llm, long rows, int rowLength, long targets) {
    double hidden = llm.hiddenSize();
    double perLayer =
        hidden * hidden // q
            + 2 * hidden * llm.kvDim() // k, v
            + hidden * hidden // o
            + 3 * hidden * llm.intermediateSize(); // gate, up, down
    double layers = llm.numHiddenLayers() * perLayer;
    double classifier = hidden * llm.vocabSize();
    double positions = (double) rows * rowLength;
    return 6 * layers * positions
        + 6 * classifier * targets
        + 6.0 * llm.numHiddenLayers() * rowLength * hidden * positions;
  }
}
