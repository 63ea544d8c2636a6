package dev.tessera.trainer.pretrain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipVisionTower;
import org.junit.jupiter.api.Test;

class TrainingFlopsTest {
  private final CpuBackend cpu = CpuBackend.get();

  /** Elements of the parameters' matrices (rank ≥ 2): what the 6N rule counts. */
  private static double matrixElements(Parameters parameters) {
    double total = 0;
    for (String name : parameters.names()) {
      Tensor value = parameters.value(name);
      if (value.shape().length >= 2) {
        total += value.intSize();
      }
    }
    return total;
  }

  @Test
  void decoderFlopsAreSixPerMatrixParameterPlusCausalAttention() {
    Qwen2Config llm = new Qwen2Config(64, 128, 2, 4, 2, 500, 1e-6, 1e4, true, 256, "float32");
    SiglipVisionConfig vision =
        new SiglipVisionConfig(32, 64, 2, 4, 32, 8, 3, 1e-6, "gelu_pytorch_tanh", false);
    double matrices = matrixElements(new Qwen2Decoder(cpu, llm, false).parameters());
    double expected = 6 * matrices * 3 * 256 + 6.0 * 2 * 256 * 64 * 3 * 256;
    assertThat(TrainingFlops.step(llm, vision, 4, 3, 256, 3 * 256, 0))
        .isCloseTo(expected, within(1.0));

    // The classifier (tied: the embedding matrix) counts only at positions with a target.
    double classifier = 64.0 * 500;
    assertThat(TrainingFlops.step(llm, vision, 4, 3, 256, 100, 0))
        .isCloseTo(expected - 6 * classifier * (3 * 256 - 100), within(1.0));

    // Images add the tower's forward and the projector's forward and backward.
    double towerMatrices = matrixElements(new SiglipVisionTower(cpu, vision).parameters());
    double patches = 16;
    double perImage =
        2 * towerMatrices * patches
            + 4.0 * 2 * patches * patches * 32
            + 6 * (32.0 * 64 + 64.0 * 64) * 4;
    assertThat(TrainingFlops.step(llm, vision, 4, 3, 256, 3 * 256, 5) - expected)
        .isCloseTo(5 * perImage, within(5 * perImage * 0.02));
  }
}
