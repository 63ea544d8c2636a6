package dev.tessera.model.siglip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.config.SiglipTextConfig;
import dev.tessera.model.oracle.TorchSiglip;
import java.io.IOException;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The text tower against libtorch, and its configuration as Hugging Face writes it. */
class SiglipTextTowerTest {
  private final CpuBackend cpu = CpuBackend.get();

  @Test
  void theTextEmbeddingMatchesLibtorch() {
    // hidden 48, 4 heads, FFN 64, 2 layers, 12 positions, a 40-token vocabulary, head to 32.
    SiglipTextConfig config =
        new SiglipTextConfig(40, 48, 64, 2, 4, 12, 1e-6, "gelu_pytorch_tanh", 32);
    SiglipTextTower tower = new SiglipTextTower(cpu, config);
    Random random = new Random(19);
    TorchSiglip.Weights weights = TorchSiglip.randomize(tower.parameters(), random);
    int batch = 3;
    int tokens = 10; // fewer than the 12 positions: the first ten are used
    int[] ids = new int[batch * tokens];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = random.nextInt(config.vocabSize());
    }
    Tensor embedding = tower.embed(ids, batch, tokens);
    assertThat(embedding.shape()).containsExactly(batch, 32);
    TorchSiglip reference =
        new TorchSiglip(new TorchSiglip.Shape(3, 16, 8, 48, 4, 0, 1e-6), weights);
    Torch.assertClose(
        "text embedding", cpu.toHost(embedding), reference.textEmbedding(ids, batch, tokens, 2));
  }

  @Test
  void captionsLongerThanThePositionsAreRefused() {
    SiglipTextTower tower =
        new SiglipTextTower(
            cpu, new SiglipTextConfig(40, 16, 32, 1, 2, 8, 1e-6, "gelu_pytorch_tanh", 16));
    assertThatThrownBy(() -> tower.embed(new int[9], 1, 9))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1..8 tokens");
    assertThatThrownBy(() -> tower.embed(new int[7], 2, 4))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("7 ids for 2 captions");
  }

  @Test
  void theConfigIsReadFromAFullSiglipConfigWithDefaults() throws IOException {
    SiglipTextConfig config =
        SiglipTextConfig.parse(
            "{\"model_type\": \"siglip\", \"text_config\": {\"hidden_size\": 1152,"
                + " \"intermediate_size\": 4304, \"num_hidden_layers\": 27,"
                + " \"num_attention_heads\": 16}, \"vision_config\": {}}",
            "config.json");
    assertThat(config.hiddenSize()).isEqualTo(1152);
    assertThat(config.vocabSize()).isEqualTo(32000);
    assertThat(config.maxPositionEmbeddings()).isEqualTo(64);
    assertThat(config.projectionSize()).isEqualTo(1152);
    assertThatThrownBy(() -> SiglipTextConfig.parse("{\"model_type\": \"clip\"}", "c.json"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("c.json")
        .hasMessageContaining("'clip'");
  }
}
