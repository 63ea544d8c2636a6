package dev.tessera.model.vlm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tessera.data.packed.PackedLayout;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PackedBatchTest {
  private static final int BOS = 5;
  private static final int EOS = 6;
  private static final int PAD = 7;
  private static final int IMAGE_TOKENS = 4;
  private static final PackedLayout LAYOUT =
      new PackedLayout(40, IMAGE_TOKENS, PackedLayout.IMAGE_TOKEN_ID, PAD, 0, "caption", "t", 40);
  private final CpuBackend cpu = CpuBackend.get();

  /** {@code <s> IMAGE \n caption.. <|im_end|>} with {@code words} caption tokens below 40. */
  private static PackedSequence.Part part(SplittableRandom rng, int words) {
    int[] ids = new int[words + 4];
    ids[0] = BOS;
    ids[1] = PackedLayout.IMAGE_TOKEN_ID;
    ids[2] = 8;
    for (int i = 3; i < ids.length - 1; i++) {
      ids[i] = 9 + rng.nextInt(30);
    }
    ids[ids.length - 1] = EOS;
    return new PackedSequence.Part(null, "k", ids, false, "jpg", ByteBuffer.allocate(1));
  }

  @Test
  void continuousTargetsEveryTextTokenIncludingTheNextSamplesBos() {
    SplittableRandom rng = new SplittableRandom(1);
    PackedSequence.Part a = part(rng, 3);
    PackedSequence.Part b = part(rng, 2);
    PackedSequence sequence = PackedSequence.build(0, LAYOUT, List.of(a, b));
    PackedBatch packed = PackedBatch.of(List.of(sequence), LAYOUT, AttentionMask.CONTINUOUS);
    Qwen2Batch batch = packed.batch();
    int[] t = batch.targets();
    // Sample a: <s> v v v v \n c c c </s> at 0..9; sample b from 10.
    assertThat(t[0]).isEqualTo(CrossEntropy.IGNORE_INDEX); // <s> -> visual
    assertThat(t[3]).isEqualTo(CrossEntropy.IGNORE_INDEX); // visual -> visual
    assertThat(t[4]).isEqualTo(8); // last visual -> \n
    assertThat(t[8]).isEqualTo(EOS);
    assertThat(t[9]).isEqualTo(BOS); // </s> -> next sample's <s>, as the reference trains
    int end = sequence.length();
    assertThat(t[end - 1]).isEqualTo(CrossEntropy.IGNORE_INDEX); // last </s> -> padding
    for (int p = end; p < 40; p++) {
      assertThat(t[p]).isEqualTo(CrossEntropy.IGNORE_INDEX);
    }
    // Text tokens after each <s>, plus b's <s>.
    assertThat(packed.targets()).isEqualTo((a.ids().length - 2) + (b.ids().length - 2) + 1);
    assertThat(packed.images()).isEqualTo(2);
    assertThat(batch.positions()[12]).isEqualTo(12);
    assertThat(batch.sampleStarts()).isNull();
    for (int p = 1; p <= 4; p++) {
      assertThat(batch.useEmbeds()[p]).isTrue();
      assertThat(batch.ids()[p]).isEqualTo(PAD);
    }
    assertThat(batch.useEmbeds()[5]).isFalse();
  }

  @Test
  void documentTargetsStopAtSampleBoundariesAndPositionsRestart() {
    SplittableRandom rng = new SplittableRandom(2);
    PackedSequence.Part a = part(rng, 3);
    PackedSequence.Part b = part(rng, 2);
    PackedSequence sequence = PackedSequence.build(0, LAYOUT, List.of(a, b));
    PackedBatch packed = PackedBatch.of(List.of(sequence), LAYOUT, AttentionMask.DOCUMENT);
    Qwen2Batch batch = packed.batch();
    assertThat(batch.targets()[9]).isEqualTo(CrossEntropy.IGNORE_INDEX);
    assertThat(batch.positions()[10]).isZero();
    assertThat(batch.positions()[12]).isEqualTo(2);
    assertThat(batch.sampleStarts()[0]).containsExactly(0, 10, sequence.length());
    assertThat(packed.targets()).isEqualTo((a.ids().length - 2) + (b.ids().length - 2));
  }

  /**
   * With document attention a packed row computes exactly what each of its samples computes alone:
   * the packed loss is the token-weighted mean of the samples' own losses.
   */
  @Test
  void documentPackingGivesEachSampleTheLossItHasAlone() {
    SplittableRandom rng = new SplittableRandom(3);
    List<PackedSequence.Part> parts = List.of(part(rng, 5), part(rng, 2), part(rng, 7));
    Qwen2Config config = new Qwen2Config(32, 64, 2, 4, 2, 40, 1e-6, 10000.0, false, 64, "float32");
    AvgPoolProjector projector = new AvgPoolProjector(cpu, 16, 32, 4, 2);
    projector.parameters().initialise(1, 0.2);
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(2, 0.2);
    OpenQwen2VL model = new OpenQwen2VL(cpu, projector, decoder);
    float[][] features = new float[parts.size()][16 * 16];
    for (float[] image : features) {
      for (int i = 0; i < image.length; i++) {
        image[i] = (float) rng.nextGaussian();
      }
    }

    PackedBatch packed =
        PackedBatch.of(
            List.of(PackedSequence.build(0, LAYOUT, parts)), LAYOUT, AttentionMask.DOCUMENT);
    double packedLoss = model.forwardBackward(packed.batch(), stack(features, 0, 3));

    double weighted = 0;
    for (int i = 0; i < parts.size(); i++) {
      PackedBatch alone =
          PackedBatch.of(
              List.of(PackedSequence.build(0, LAYOUT, List.of(parts.get(i)))),
              LAYOUT,
              AttentionMask.DOCUMENT);
      weighted += model.forwardBackward(alone.batch(), stack(features, i, i + 1)) * alone.targets();
    }
    assertThat(packedLoss).isCloseTo(weighted / packed.targets(), within(1e-5));

    // Continuous attention lets samples see each other: a different loss.
    PackedBatch continuous =
        PackedBatch.of(
            List.of(PackedSequence.build(0, LAYOUT, parts)), LAYOUT, AttentionMask.CONTINUOUS);
    assertThat(model.forwardBackward(continuous.batch(), stack(features, 0, 3)))
        .isNotCloseTo(packedLoss, within(1e-4));
  }

  /**
   * Micro-batches scaled by the whole batch's target count accumulate exactly the gradient of the
   * whole batch's mean loss over its real tokens.
   */
  @Test
  void microBatchesAddUpToTheWholeBatchsMeanOverRealTokens() {
    SplittableRandom rng = new SplittableRandom(4);
    List<PackedSequence> sequences =
        List.of(
            PackedSequence.build(0, LAYOUT, List.of(part(rng, 9), part(rng, 1))),
            PackedSequence.build(1, LAYOUT, List.of(part(rng, 3))));
    Qwen2Config config = new Qwen2Config(32, 64, 1, 4, 2, 40, 1e-6, 10000.0, true, 64, "float32");
    AvgPoolProjector projector = new AvgPoolProjector(cpu, 16, 32, 4, 2);
    projector.parameters().initialise(5, 0.2);
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(6, 0.2);
    OpenQwen2VL model = new OpenQwen2VL(cpu, projector, decoder);
    float[][] features = new float[3][256];
    for (float[] image : features) {
      for (int i = 0; i < image.length; i++) {
        image[i] = (float) rng.nextGaussian();
      }
    }

    PackedBatch whole = PackedBatch.of(sequences, LAYOUT, AttentionMask.CONTINUOUS);
    double mean = model.forwardBackward(whole.batch(), stack(features, 0, 3));
    float[] wholeGrads = cpu.toHost(decoder.parameters().flatGrads());
    decoder.parameters().zeroGrads();
    projector.parameters().zeroGrads();

    double sum = 0;
    for (int r = 0; r < 2; r++) {
      PackedBatch micro =
          PackedBatch.of(List.of(sequences.get(r)), LAYOUT, AttentionMask.CONTINUOUS);
      sum +=
          model.forwardBackwardSum(
              micro.batch(), stack(features, r * 2, r == 0 ? 2 : 3), 1.0 / whole.targets());
    }
    assertThat(sum / whole.targets()).isCloseTo(mean, within(1e-6));
    float[] microGrads = cpu.toHost(decoder.parameters().flatGrads());
    for (int i = 0; i < wholeGrads.length; i++) {
      assertThat(microGrads[i])
          .isCloseTo(wholeGrads[i], within(1e-6f + 1e-4f * Math.abs(wholeGrads[i])));
    }
  }

  private Tensor stack(float[][] features, int from, int to) {
    float[] values = new float[(to - from) * 16 * 16];
    for (int i = from; i < to; i++) {
      System.arraycopy(features[i], 0, values, (i - from) * 256, 256);
    }
    return cpu.fromHost(values, to - from, 16, 16);
  }
}
