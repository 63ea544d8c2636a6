package dev.tessera.model.vlm;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.oracle.TorchQwen2;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Next-token logits (what scorers and generators read) against an independent libtorch Qwen2. */
class VlmInferenceTest {
  private final CpuBackend cpu = CpuBackend.get();

  private static Qwen2Config tiny() {
    return new Qwen2Config(32, 48, 2, 4, 2, 97, 1e-6, 10000.0, true, 64, "float32");
  }

  @Test
  void lastLogitsOfTextRowsAreTheLastRowOfTheFullLogits() {
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, tiny(), false);
    decoder.parameters().initialise(3, 0.2);
    int[][] rows = {{5, 17, 3, 96, 40, 0, 12}, {1, 2, 3, 4, 5, 6, 7}};
    int[] ids = new int[14];
    System.arraycopy(rows[0], 0, ids, 0, 7);
    System.arraycopy(rows[1], 0, ids, 7, 7);
    Tensor last = decoder.lastLogits(Qwen2Batch.text(2, 7, ids, new int[14]));
    assertThat(last.shape()).containsExactly(2, 97);
    for (int r = 0; r < 2; r++) {
      float[] full = cpu.toHost(decoder.logits(rows[r]));
      assertClose("row " + r, cpu.toHost(last.get(r)), Arrays.copyOfRange(full, 6 * 97, 7 * 97));
    }
  }

  @Test
  void imageTokensAreSplicedWhereTheBatchMarksThemAsLibtorchAgrees() {
    Qwen2Config config = tiny();
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(5, 0.2);
    AvgPoolProjector projector = new AvgPoolProjector(cpu, 8, config.hiddenSize(), 4, 2);
    projector.parameters().initialise(6, 0.3);
    OpenQwen2VL vlm = new OpenQwen2VL(cpu, projector, decoder);
    Random random = new Random(9);
    float[] featureValues = Torch.randn(random, 16 * 8, 1.0);
    Tensor features = cpu.fromHost(featureValues, 1, 16, 8);
    int t = 11;
    int[] ids = new int[t];
    boolean[] image = new boolean[t];
    for (int i = 0; i < t; i++) {
      ids[i] = random.nextInt(config.vocabSize());
      image[i] = i >= 2 && i < 6;
    }
    int[] positions = new int[t];
    for (int i = 0; i < t; i++) {
      positions[i] = i;
    }
    Qwen2Batch batch =
        new Qwen2Batch(
            1, t, ids, positions, new int[t], AttentionMask.CONTINUOUS, null, null, image);
    float[] ours = cpu.toHost(vlm.lastLogits(batch, features));

    // Reference: the projector's tokens placed by hand, the decoder in libtorch.
    Tensor tokens = cpu.zeros(4, config.hiddenSize());
    projector.forward(features, tokens);
    float[] embeds = new float[t * config.hiddenSize()];
    float[] projected = cpu.toHost(tokens);
    for (int k = 0; k < 4; k++) {
      System.arraycopy(
          projected,
          k * config.hiddenSize(),
          embeds,
          (2 + k) * config.hiddenSize(),
          config.hiddenSize());
    }
    TorchQwen2 reference = TorchQwen2.copyOf(config, decoder.parameters());
    float[] full = reference.logits(Arrays.stream(ids).asLongStream().toArray(), embeds, image);
    assertClose("next-token logits", ours, Arrays.copyOfRange(full, (t - 1) * 97, t * 97));
  }
}
