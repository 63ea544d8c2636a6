package dev.tessera.trainer.pretrain;

import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;

/**
 * Model FLOPs of a training step, for MFU: what the model needs, not what the kernels happen to do
 * (PaLM's definition). Per decoder position, 6 × the decoder's matrix parameters (forward and
 * backward of every projection, the classifier included) plus 6 × layers × row length × hidden for
 * causal attention; per image, the frozen tower's forward (2 × its matrix parameters per patch plus
 * attention) and the projector's forward and backward.
 */
public final class TrainingFlops {
  private TrainingFlops() {}

  /**
   * FLOPs of one step over {@code rows} rows of {@code rowLength} positions holding {@code images}
   * images.
   */
  public static double step(
      Qwen2Config llm,
      SiglipVisionConfig vision,
      int tokensPerImage,
      long rows,
      int rowLength,
      long images) {
    double decoder = decoderStep(llm, rows, rowLength);
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
   * FLOPs of the decoder alone (forward and backward) over {@code rows} rows of {@code rowLength}.
   */
  public static double decoderStep(Qwen2Config llm, long rows, int rowLength) {
    double hidden = llm.hiddenSize();
    double perLayer =
        hidden * hidden // q
            + 2 * hidden * llm.kvDim() // k, v
            + hidden * hidden // o
            + 3 * hidden * llm.intermediateSize(); // gate, up, down
    double matrices = llm.numHiddenLayers() * perLayer + hidden * llm.vocabSize();
    double positions = (double) rows * rowLength;
    return 6 * matrices * positions + 6.0 * llm.numHiddenLayers() * rowLength * hidden * positions;
  }
}
