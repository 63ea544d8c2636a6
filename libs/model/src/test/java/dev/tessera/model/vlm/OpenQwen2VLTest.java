package dev.tessera.model.vlm;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.LinearCrossEntropy;
import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.oracle.TorchQwen2;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** A whole tiny VLM (projector + decoder) against libtorch: loss and every trainable gradient. */
class OpenQwen2VLTest {
  private static final int GRID = 5;
  private static final int POOLED = 2;
  private static final int VISION = 12;
  private static final int ROWS = 2;
  private static final int TOKENS = 16;
  private final CpuBackend cpu = CpuBackend.get();

  /**
   * Two packed rows of random tokens: row 0 a sample [0,8) with an image at 1..4 and a sample
   * [8,16) with an image at 9..12; row 1 one sample with an image at 1..4 (3 images x 4 tokens).
   */
  private static Qwen2Batch twoRows(Random random, int vocab) {
    int n = ROWS * TOKENS;
    boolean[] visual = new boolean[n];
    for (int i : new int[] {1, 2, 3, 4, 9, 10, 11, 12, 17, 18, 19, 20}) {
      visual[i] = true;
    }
    int[] ids = new int[n];
    int[] positions = new int[n];
    int[] targets = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = random.nextInt(vocab);
      int t = i % TOKENS;
      positions[i] = i < TOKENS && t >= 8 ? t - 8 : t;
      targets[i] = visual[i] ? -100 : random.nextInt(vocab);
    }
    return new Qwen2Batch(
        ROWS,
        TOKENS,
        ids,
        positions,
        targets,
        AttentionMask.DOCUMENT,
        new int[][] {{0, 8}, {0}},
        null,
        visual);
  }

  @Test
  void lossAndAllTrainableGradientsMatchLibtorch() {
    Qwen2Config config = new Qwen2Config(24, 40, 2, 4, 2, 53, 1e-6, 10000.0, true, 64, "float32");
    AvgPoolProjector projector = new AvgPoolProjector(cpu, VISION, 24, GRID, POOLED);
    projector.parameters().initialise(3, 0.3);
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(4, 0.2);
    OpenQwen2VL model = new OpenQwen2VL(cpu, projector, decoder);

    Random random = new Random(9);
    Qwen2Batch batch = twoRows(random, config.vocabSize());
    float[] features = Torch.randn(random, 3 * GRID * GRID * VISION, 1.0);
    int n = ROWS * TOKENS;
    boolean[] visual = batch.useEmbeds();
    int[] ids = batch.ids();
    int[] positions = batch.positions();
    int[] targets = batch.targets();

    double loss = model.forwardBackward(batch, cpu.fromHost(features, 3, GRID * GRID, VISION));

    // libtorch: pool -> linear -> gelu -> linear, scattered into the image positions.
    Map<String, org.bytedeco.pytorch.Tensor> torchProjector = new HashMap<>();
    projector
        .parameters()
        .values()
        .forEach(
            (name, tensor) ->
                torchProjector.put(
                    name,
                    Torch.parameter(
                        cpu.toHost(tensor),
                        Arrays.stream(tensor.shape()).asLongStream().toArray())));
    org.bytedeco.pytorch.Tensor grid =
        Torch.tensor(features, 3, GRID, GRID, VISION).permute(0, 3, 1, 2);
    org.bytedeco.pytorch.Tensor pooled =
        torch.adaptive_avg_pool2d(grid, POOLED, POOLED).permute(0, 2, 3, 1).reshape(12, VISION);
    org.bytedeco.pytorch.Tensor hidden =
        torch
            .matmul(pooled, torchProjector.get("projector.0.weight").t())
            .add(torchProjector.get("projector.0.bias"));
    org.bytedeco.pytorch.Tensor tokens =
        torch
            .matmul(torch.gelu(hidden), torchProjector.get("projector.2.weight").t())
            .add(torchProjector.get("projector.2.bias"));
    float[] selection = new float[n * 12];
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (visual[i]) {
        selection[i * 12 + k++] = 1f;
      }
    }
    org.bytedeco.pytorch.Tensor embeds = torch.matmul(Torch.tensor(selection, n, 12), tokens);

    TorchQwen2 reference = TorchQwen2.copyOf(config, decoder.parameters());
    boolean[][][] allowed = new boolean[ROWS][TOKENS][TOKENS];
    for (int b = 0; b < ROWS; b++) {
      for (int t = 0; t < TOKENS; t++) {
        for (int s = 0; s <= t; s++) {
          allowed[b][t][s] = positions[b * TOKENS + t] >= t - s;
        }
      }
    }
    float referenceLoss =
        reference.lossAndBackward(
            ROWS,
            TOKENS,
            Arrays.stream(ids).asLongStream().toArray(),
            Arrays.stream(positions).asLongStream().toArray(),
            allowed,
            Arrays.stream(targets).asLongStream().toArray(),
            embeds,
            visual);

    assertThat(Math.abs(loss - referenceLoss) / referenceLoss).isLessThan(1e-5);
    for (String name : projector.parameters().names()) {
      assertClose(
          name,
          cpu.toHost(projector.parameters().grad(name)),
          Torch.grad(torchProjector.get(name)));
    }
    for (String name : decoder.parameters().names()) {
      assertClose(name, cpu.toHost(decoder.parameters().grad(name)), reference.grad(name));
    }
  }

  /**
   * The forward-only loss (held-out measurements) is the very value the training pass returns,
   * through the fused classifier loss (narrow hidden states) and the unfused one, and leaves the
   * gradients alone.
   */
  @Test
  void theLossAloneIsTheTrainingPassesLossToTheBit() {
    for (int hidden : new int[] {24, 96}) {
      Qwen2Config config =
          new Qwen2Config(hidden, 40, 2, 4, 2, 53, 1e-6, 10000.0, true, 64, "float32");
      AvgPoolProjector projector = new AvgPoolProjector(cpu, VISION, hidden, GRID, POOLED);
      projector.parameters().initialise(5, 0.3);
      Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, hidden > 64);
      decoder.parameters().initialise(6, 0.2);
      OpenQwen2VL model = new OpenQwen2VL(cpu, projector, decoder);
      Random random = new Random(hidden);
      Qwen2Batch batch = twoRows(random, config.vocabSize());
      float[] features = Torch.randn(random, 3 * GRID * GRID * VISION, 1.0);
      Tensor tower = cpu.fromHost(features, 3, GRID * GRID, VISION);

      // The narrow model through the fused classifier loss on any CPU, the wide one unfused.
      boolean fused = hidden <= 64;
      double alone = LinearCrossEntropy.withRoute(fused, () -> model.lossSum(batch, tower));
      for (String name : decoder.parameters().names()) {
        float[] grad = cpu.toHost(decoder.parameters().grad(name));
        for (float g : grad) {
          assertThat(g).as("%s untouched", name).isZero();
        }
      }
      double trained =
          LinearCrossEntropy.withRoute(
              fused, () -> model.forwardBackwardSum(batch, tower, 1.0 / 20));
      assertThat(alone).as("hidden %d", hidden).isEqualTo(trained);
      assertThat(Double.isFinite(alone) && alone > 0).isTrue();
    }
  }

  @Test
  void imagePositionsMustMatchTheVisualTokens() {
    Qwen2Config config = new Qwen2Config(24, 40, 1, 4, 2, 53, 1e-6, 10000.0, true, 64, "float32");
    OpenQwen2VL model =
        new OpenQwen2VL(
            cpu,
            new AvgPoolProjector(cpu, VISION, 24, GRID, POOLED),
            new Qwen2Decoder(cpu, config, false));
    boolean[] visual = new boolean[8];
    visual[1] = visual[2] = visual[3] = true;
    Qwen2Batch batch =
        new Qwen2Batch(
            1,
            8,
            new int[8],
            new int[8],
            new int[] {1, 1, 1, 1, 1, 1, 1, 1},
            AttentionMask.CONTINUOUS,
            null,
            null,
            visual);
    Tensor features = cpu.zeros(1, GRID * GRID, VISION);
    assertThatThrownBy(() -> model.forwardBackward(batch, features))
        .hasMessageContaining("3 image positions, the images give 4 tokens");
  }
}
