package dev.tessera.model.siglip;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.oracle.TorchSiglip;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The tower against an independent libtorch SigLIP: features, every hidden state, the last. */
class SiglipVisionTowerTest {
  private static final int BATCH = 2;
  private final CpuBackend cpu = CpuBackend.get();

  private static SiglipVisionConfig tiny(int imageSize, int patch, boolean head) {
    return new SiglipVisionConfig(
        48, 64, 3, 4, imageSize, patch, 3, 1e-6, "gelu_pytorch_tanh", head);
  }

  @ParameterizedTest(name = "image={0} patch={1} head={2}")
  @CsvSource({"32, 8, false", "30, 7, true"})
  void featuresAndLastHiddenStateMatchLibtorch(int imageSize, int patch, boolean head) {
    SiglipVisionConfig config = tiny(imageSize, patch, head);
    Random random = new Random(imageSize * 31L + patch);
    SiglipVisionTower tower = new SiglipVisionTower(cpu, config);
    TorchSiglip.Weights weights = TorchSiglip.randomize(tower.parameters(), random);
    float[] pixels = Torch.randn(random, BATCH * 3 * imageSize * imageSize, 0.6);
    Tensor input = cpu.fromHost(pixels, BATCH, 3, imageSize, imageSize);

    Tensor features = tower.features(input);
    Tensor last = tower.lastHiddenState(input);
    int n = config.numPatches();
    assertThat(features.shape()).containsExactly(BATCH, n, 48);
    assertThat(last.shape()).containsExactly(BATCH, n, 48);

    TorchSiglip reference =
        new TorchSiglip(new TorchSiglip.Shape(3, imageSize, patch, 48, 4, 3, 1e-6), weights);
    List<float[]> states = reference.hiddenStates(pixels, BATCH);
    // hidden_states[l] is the output of layer l-1: the second-to-last layer (index 1 of 3) is [2].
    assertThat(tower.featureLayer()).isEqualTo(1);
    assertClose("features", cpu.toHost(features), states.get(2));
    assertClose("last_hidden_state", cpu.toHost(last), states.get(4));
    for (int l = 0; l <= 3; l++) {
      assertClose(
          "hidden_states[" + l + "]", cpu.toHost(tower.hiddenState(input, l)), states.get(l));
    }
    // The features are not the last layer's output (with or without the post-layernorm).
    assertThat(Torch.relativeError(cpu.toHost(features), states.get(3))).isGreaterThan(0.05);
    assertThat(Torch.relativeError(cpu.toHost(features), states.get(4))).isGreaterThan(0.05);
  }

  @Test
  void imagesAreIndependent() {
    SiglipVisionConfig config = tiny(32, 8, false);
    SiglipVisionTower tower = new SiglipVisionTower(cpu, config);
    Random random = new Random(3);
    TorchSiglip.randomize(tower.parameters(), random);
    int per = 3 * 32 * 32;
    float[] pixels = Torch.randn(random, 2 * per, 0.6);
    float[] both = cpu.toHost(tower.features(cpu.fromHost(pixels, 2, 3, 32, 32)));
    float[] second =
        cpu.toHost(
            tower.features(cpu.fromHost(Arrays.copyOfRange(pixels, per, 2 * per), 1, 3, 32, 32)));
    int out = config.numPatches() * 48;
    assertThat(Arrays.copyOfRange(both, out, 2 * out)).isEqualTo(second);
  }

  @Test
  void so400mTowerHas729PatchesAndItsParameters() throws Exception {
    Path json =
        Path.of(getClass().getResource("/configs/siglip-so400m-patch14-384/config.json").toURI());
    SiglipVisionConfig config = SiglipVisionConfig.read(json);
    assertThat(config.patchesPerSide()).isEqualTo(27);
    assertThat(config.numPatches()).isEqualTo(729);
    assertThat(SiglipImageProcessor.forTower(config).size()).isEqualTo(384);
    long h = 1152;
    long i = 4304;
    long embeddings = h * 3 * 14 * 14 + h + 729 * h;
    long layer = 4 * h + 4 * (h * h + h) + (i * h + i) + (h * i + h);
    assertThat(ModelParameters.siglipVision(config.withHead(false)).count())
        .isEqualTo(embeddings + 27 * layer + 2 * h)
        .isEqualTo(412_987_248L);

    // The full widths through Parameters and the tower, with 2 of the 27 layers to stay small.
    SiglipVisionConfig twoLayers =
        new SiglipVisionConfig(
            config.hiddenSize(),
            config.intermediateSize(),
            2,
            config.numAttentionHeads(),
            config.imageSize(),
            config.patchSize(),
            config.numChannels(),
            config.layerNormEps(),
            config.hiddenAct(),
            false);
    SiglipVisionTower tower = new SiglipVisionTower(cpu, twoLayers);
    assertThat(tower.parameters().flatValues().size()).isEqualTo(embeddings + 2 * layer + 2 * h);
    assertThat(
            tower.parameters().value("vision_model.embeddings.position_embedding.weight").shape())
        .containsExactly(729, 1152);
    assertThat(tower.featureLayer()).isZero();
  }

  @Test
  void invalidInputsAreNamed() {
    SiglipVisionTower tower = new SiglipVisionTower(cpu, tiny(32, 8, false));
    assertThatThrownBy(() -> tower.features(cpu.zeros(1, 3, 32, 31)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("pixels have shape [1, 3, 32, 31], expected [B, 3, 32, 32]");
    assertThatThrownBy(() -> tower.hiddenState(cpu.zeros(1, 3, 32, 32), 4))
        .hasMessageContaining("numLayers 4 is outside [0, 3]");
    SiglipVisionConfig relu = new SiglipVisionConfig(48, 64, 3, 4, 32, 8, 3, 1e-6, "relu", false);
    assertThatThrownBy(() -> new SiglipVisionTower(cpu, relu))
        .hasMessageContaining("hidden_act 'relu' is not supported")
        .hasMessageContaining("gelu_pytorch_tanh")
        .hasMessageContaining("quick_gelu");
    SiglipVisionConfig oneLayer =
        new SiglipVisionConfig(48, 64, 1, 4, 32, 8, 3, 1e-6, "gelu_pytorch_tanh", false);
    assertThatThrownBy(() -> new SiglipVisionTower(cpu, oneLayer).features(cpu.zeros(1, 3, 32, 32)))
        .hasMessageContaining("at least 2 encoder layers");
  }

  @Test
  void thePooledImageEmbeddingMatchesLibtorch() {
    int imageSize = 30;
    int patch = 7;
    SiglipVisionConfig config = tiny(imageSize, patch, true);
    Random random = new Random(77);
    SiglipVisionTower tower = new SiglipVisionTower(cpu, config);
    TorchSiglip.Weights weights = TorchSiglip.randomize(tower.parameters(), random);
    float[] pixels = Torch.randn(random, BATCH * 3 * imageSize * imageSize, 0.6);
    Tensor pooled = tower.pooled(cpu.fromHost(pixels, BATCH, 3, imageSize, imageSize));
    assertThat(pooled.shape()).containsExactly(BATCH, 48);
    TorchSiglip reference =
        new TorchSiglip(new TorchSiglip.Shape(3, imageSize, patch, 48, 4, 3, 1e-6), weights);
    Torch.assertClose("pooled", cpu.toHost(pooled), reference.pooled(pixels, BATCH));
  }

  @Test
  void aTowerWithoutTheHeadHasNoPooledEmbedding() {
    SiglipVisionTower tower = new SiglipVisionTower(cpu, tiny(32, 8, false));
    assertThatThrownBy(() -> tower.pooled(cpu.zeros(1, 3, 32, 32)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("vision_use_head");
  }
}
