package dev.tessera.model.qwen2;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.LinearCrossEntropy;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.oracle.TorchQwen2;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The whole decoder against an independent libtorch Qwen2: loss and every parameter gradient. */
class Qwen2DecoderTest {
  private static final int ROWS = 2;
  private static final int TOKENS = 13;
  private final CpuBackend cpu = CpuBackend.get();

  static Qwen2Config tiny(boolean tied) {
    return new Qwen2Config(32, 48, 2, 4, 2, 97, 1e-6, 10000.0, tied, 64, "float32");
  }

  @org.junit.jupiter.api.Test
  void logitsOfARowMatchLibtorch() {
    Qwen2Config config = tiny(false);
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(21, 0.2);
    int[] ids = {5, 17, 3, 96, 40, 0, 12};
    TorchQwen2 reference = TorchQwen2.copyOf(config, decoder.parameters());

    Tensor logits = decoder.logits(ids);

    assertThat(logits.shape()).containsExactly(ids.length, config.vocabSize());
    assertClose(
        "logits",
        cpu.toHost(logits),
        reference.logits(java.util.Arrays.stream(ids).asLongStream().toArray()));
  }

  @ParameterizedTest(name = "tied={0} mask={1} images={2} checkpointing={3}")
  @CsvSource({
    "true, DOCUMENT, false, false",
    "false, CONTINUOUS, false, false",
    "true, DOCUMENT, true, false",
    "false, DOCUMENT, true, true"
  })
  void lossAndEveryGradientMatchLibtorch(
      boolean tied, AttentionMask mask, boolean images, boolean checkpointing) {
    Qwen2Config config = tiny(tied);
    Random random = new Random(7 + (tied ? 1 : 0) + (images ? 2 : 0));
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, checkpointing);
    decoder.parameters().initialise(11, 0.2);

    int n = ROWS * TOKENS;
    int[] ids = new int[n];
    int[] targets = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = random.nextInt(config.vocabSize());
      targets[i] = random.nextInt(5) == 0 ? -100 : random.nextInt(config.vocabSize());
    }
    int[][] starts = {{0, 5, 9}, {0, 7}};
    int[] positions = new int[n];
    for (int b = 0; b < ROWS; b++) {
      for (int t = 0; t < TOKENS; t++) {
        int start = 0;
        for (int s : starts[b]) {
          if (s <= t) {
            start = s;
          }
        }
        positions[b * TOKENS + t] = mask == AttentionMask.DOCUMENT ? t - start : t;
      }
    }
    Tensor embeds = null;
    boolean[] useEmbeds = null;
    float[] embedValues = null;
    if (images) {
      embedValues = dev.tessera.engine.oracle.Torch.randn(random, n * config.hiddenSize(), 0.5);
      embeds = cpu.fromHost(embedValues, n, config.hiddenSize());
      useEmbeds = new boolean[n];
      for (int i : new int[] {1, 2, 3, 15, 16}) {
        useEmbeds[i] = true;
      }
    }
    Qwen2Batch batch =
        new Qwen2Batch(ROWS, TOKENS, ids, positions, targets, mask, starts, embeds, useEmbeds);
    Tensor dEmbeds = images ? cpu.zeros(n, config.hiddenSize()) : null;
    double loss = decoder.forwardBackward(batch, dEmbeds);

    boolean[][][] allowed = new boolean[ROWS][TOKENS][TOKENS];
    for (int b = 0; b < ROWS; b++) {
      for (int t = 0; t < TOKENS; t++) {
        for (int s = 0; s <= t; s++) {
          allowed[b][t][s] = mask == AttentionMask.CONTINUOUS || positions[b * TOKENS + t] >= t - s;
        }
      }
    }
    TorchQwen2 reference =
        assertMatchesLibtorch(config, decoder, loss, batch, allowed, embedValues);
    if (images) {
      assertClose("input embeddings", cpu.toHost(dEmbeds), reference.inputEmbedsGrad());
    }
  }

  /**
   * Runs libtorch's Qwen2 with the decoder's weights on the same batch and attention pattern;
   * asserts the loss and every parameter gradient, and returns the reference for more checks.
   */
  private TorchQwen2 assertMatchesLibtorch(
      Qwen2Config config,
      Qwen2Decoder decoder,
      double loss,
      Qwen2Batch batch,
      boolean[][][] allowed,
      float[] embedValues) {
    TorchQwen2 reference = TorchQwen2.copyOf(config, decoder.parameters());
    float referenceLoss =
        reference.lossAndBackward(
            batch.rows(),
            batch.tokens(),
            java.util.Arrays.stream(batch.ids()).asLongStream().toArray(),
            java.util.Arrays.stream(batch.positions()).asLongStream().toArray(),
            allowed,
            java.util.Arrays.stream(batch.targets()).asLongStream().toArray(),
            embedValues,
            batch.useEmbeds());
    assertThat(Math.abs(loss - referenceLoss) / Math.abs(referenceLoss)).isLessThan(1e-5);
    for (String name : decoder.parameters().names()) {
      assertClose(name, cpu.toHost(decoder.parameters().grad(name)), reference.grad(name));
    }
    return reference;
  }

  /**
   * More rows with targets than one classifier chunk holds, with a long run of rows without targets
   * (as image placeholders make) and scattered ones: the chunks are gathered from runs of rows, and
   * the loss and every gradient still match libtorch. A hidden size of 32 takes the fused
   * classifier loss ({@code LinearCrossEntropy}), one of 80 the logits in memory ({@code Matmul},
   * {@code CrossEntropy}).
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "hidden {0}")
  @org.junit.jupiter.params.provider.ValueSource(ints = {32, 80})
  void classifierOverGatheredRowsWithTargetsMatchesLibtorch(int hidden) {
    int rows = 2;
    int tokens = 300;
    Qwen2Config config =
        new Qwen2Config(hidden, 48, 1, 4, 2, 97, 1e-6, 10000.0, false, 512, "float32");
    Random random = new Random(29);
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(13, 0.2);
    int n = rows * tokens;
    int[] ids = new int[n];
    int[] targets = new int[n];
    int[] positions = new int[n];
    int kept = 0;
    for (int i = 0; i < n; i++) {
      ids[i] = random.nextInt(config.vocabSize());
      boolean image = i >= 20 && i < 180;
      targets[i] = image || random.nextInt(6) == 0 ? -100 : random.nextInt(config.vocabSize());
      positions[i] = i % tokens;
      kept += targets[i] == -100 ? 0 : 1;
    }
    assertThat(kept).isGreaterThan(Qwen2Decoder.LOSS_CHUNK_ROWS);
    Qwen2Batch batch =
        new Qwen2Batch(
            rows,
            tokens,
            ids,
            positions,
            targets,
            AttentionMask.CONTINUOUS,
            new int[][] {{0}, {0}},
            null,
            null);
    // The narrow decoder through the fused classifier loss on any CPU (docs/engine.md).
    boolean fused = hidden <= 64;
    assertThat(
            LinearCrossEntropy.withRoute(
                fused, () -> LinearCrossEntropy.pays(cpu.zeros(1, hidden))))
        .isEqualTo(fused);
    double loss = LinearCrossEntropy.withRoute(fused, () -> decoder.forwardBackward(batch, null));

    boolean[][][] allowed = new boolean[rows][tokens][tokens];
    for (boolean[][] row : allowed) {
      for (int t = 0; t < tokens; t++) {
        java.util.Arrays.fill(row[t], 0, t + 1, true);
      }
    }
    assertMatchesLibtorch(config, decoder, loss, batch, allowed, null);
  }
}
