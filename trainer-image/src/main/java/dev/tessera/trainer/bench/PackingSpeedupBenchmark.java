package dev.tessera.trainer.bench;

import dev.tessera.data.packed.PackedLayout;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.data.packing.BinPacker;
import dev.tessera.data.packing.Packing;
import dev.tessera.data.packing.PackingAlgorithm;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.optim.AdamW;
import dev.tessera.model.Parameters;
import dev.tessera.model.vlm.OpenQwen2VL;
import dev.tessera.model.vlm.PackedBatch;
import dev.tessera.model.vlm.VisionLanguageModel;
import dev.tessera.trainer.pretrain.TinyPreset;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Training throughput of the tiny VLM on CPU with packed sequences against the same samples without
 * packing, in one run: every sample trained once each way (forward, backward, AdamW), real tokens
 * per second compared.
 *
 * <p>Samples: 16 image tokens + 3 layout tokens + a caption of 10–80 tokens (log-normal, median
 * 14), over a 1,000-word vocabulary. Packed: first-fit decreasing into 512-token sequences, two per
 * micro-batch, continuous attention (the reference's). Unpacked: one sample per row, rows padded to
 * the longest sample of their micro-batch (dynamic padding, the baseline's best case), as many
 * samples per micro-batch as the packed rows hold on average, so both sides run micro-batches of
 * about the same real tokens.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp trainer-image/target/tessera-trainer.jar \
 *     dev.tessera.trainer.bench.PackingSpeedupBenchmark [samples=1200] [rounds=2]
 * </pre>
 */
public final class PackingSpeedupBenchmark {
  private static final int SEQUENCE = 512;
  private static final int IMAGE_TOKENS = 16;
  private static final int VOCABULARY = 1000;
  private static final CpuBackend CPU = CpuBackend.get();

  private PackingSpeedupBenchmark() {}

  public static void main(String[] args) {
    int samples = args.length > 0 ? Integer.parseInt(args[0]) : 1200;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    SplittableRandom random = new SplittableRandom(1);
    List<PackedSequence.Part> parts = new ArrayList<>();
    for (int i = 0; i < samples; i++) {
      long caption = Math.round(14 * Math.exp(0.6 * random.nextGaussian()));
      int words = (int) Math.max(10, Math.min(80, caption));
      int[] ids = new int[words + 4];
      ids[0] = 0;
      ids[1] = PackedLayout.IMAGE_TOKEN_ID;
      ids[2] = 3;
      for (int w = 3; w < ids.length - 1; w++) {
        ids[w] = 4 + random.nextInt(VOCABULARY - 4);
      }
      ids[ids.length - 1] = 1;
      parts.add(new PackedSequence.Part(null, "s" + i, ids, false, "jpg", ByteBuffer.allocate(0)));
    }
    PackedLayout layout = layout(SEQUENCE);
    VisionLanguageModel model = TinyPreset.build(CPU, layout);
    model.tower().parameters().initialise(1, 0.2);
    int imageSize = model.tower().config().imageSize();
    float[] pixels = new float[3 * imageSize * imageSize];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (float) random.nextGaussian();
    }
    // The frozen tower's features of one image stand for every image: the tower is not what is
    // compared, and its cost per image is the same both ways.
    Tensor feature = model.tower().features(CPU.fromHost(pixels, 1, 3, imageSize, imageSize));

    // Packed rows.
    int[] lengths = parts.stream().mapToInt(p -> p.multimodalLength(IMAGE_TOKENS)).toArray();
    Packing packing = BinPacker.pack(lengths, SEQUENCE, PackingAlgorithm.FIRST_FIT_DECREASING);
    List<PackedBatch> packedBatches = new ArrayList<>();
    for (int bin = 0; bin < packing.binCount(); bin += 2) {
      List<PackedSequence> rows = new ArrayList<>();
      for (int b = bin; b < Math.min(packing.binCount(), bin + 2); b++) {
        List<PackedSequence.Part> members = new ArrayList<>();
        for (int sample : packing.members(b)) {
          members.add(parts.get(sample));
        }
        rows.add(PackedSequence.build(b, layout, members));
      }
      packedBatches.add(PackedBatch.of(rows, layout, AttentionMask.CONTINUOUS));
    }
    // Padded rows, about as many real tokens per micro-batch.
    int perMicro = (int) Math.round(2.0 * samples / packing.binCount());
    List<PackedBatch> paddedBatches = new ArrayList<>();
    long paddedSlots = 0;
    for (int from = 0; from < samples; from += perMicro) {
      List<PackedSequence.Part> micro = parts.subList(from, Math.min(samples, from + perMicro));
      int longest = micro.stream().mapToInt(p -> p.multimodalLength(IMAGE_TOKENS)).max().orElse(1);
      PackedLayout rowLayout = layout(longest);
      List<PackedSequence> rows = new ArrayList<>();
      for (PackedSequence.Part part : micro) {
        rows.add(PackedSequence.build(rows.size(), rowLayout, List.of(part)));
      }
      paddedBatches.add(PackedBatch.of(rows, rowLayout, AttentionMask.CONTINUOUS));
      paddedSlots += (long) longest * micro.size();
    }
    long realTokens = 0;
    for (int length : lengths) {
      realTokens += length;
    }
    System.out.printf(
        Locale.ROOT,
        "%,d samples, %,d real tokens (mean %.1f per sample); packed: %,d rows of %d (fill %.3f),"
            + " %d micro-batches; unpacked: %d micro-batches of %d samples, padding %.1f%% of"
            + " slots; %d threads%n",
        samples,
        realTokens,
        (double) realTokens / samples,
        packing.binCount(),
        SEQUENCE,
        packing.fillRatio(),
        packedBatches.size(),
        paddedBatches.size(),
        perMicro,
        100.0 * (paddedSlots - realTokens) / paddedSlots,
        Runtime.getRuntime().availableProcessors());

    double bestPacked = 0;
    double bestPadded = 0;
    for (int round = 0; round <= rounds; round++) {
      double packed = realTokens / train(packedBatches, feature);
      double padded = realTokens / train(paddedBatches, feature);
      if (round > 0) {
        bestPacked = Math.max(bestPacked, packed);
        bestPadded = Math.max(bestPadded, padded);
      }
      System.out.printf(
          Locale.ROOT,
          "round %d%s: packed %,.0f tokens/s, unpacked %,.0f tokens/s%n",
          round,
          round == 0 ? " (warm-up)" : "",
          packed,
          padded);
    }
    System.out.printf(
        Locale.ROOT,
        "packed / unpacked: %.2fx (real tokens per second, best rounds)%n",
        bestPacked / bestPadded);
  }

  private static PackedLayout layout(int sequenceLength) {
    return new PackedLayout(
        sequenceLength,
        IMAGE_TOKENS,
        PackedLayout.IMAGE_TOKEN_ID,
        2,
        0,
        "caption",
        "bench",
        VOCABULARY);
  }

  /** One pass over the batches, each a full training step; seconds taken. */
  private static double train(List<PackedBatch> batches, Tensor feature) {
    // A fresh decoder and optimizer each pass, so both sides start from the same weights.
    VisionLanguageModel fresh = TinyPreset.build(CPU, layout(SEQUENCE));
    fresh.projector().parameters().initialise(2, 0.1);
    fresh.decoder().parameters().initialise(3, 0.05);
    OpenQwen2VL vlm = fresh.vlm(CPU);
    List<AdamW.Param> params = new ArrayList<>();
    for (Parameters group : List.of(fresh.projector().parameters(), fresh.decoder().parameters())) {
      for (String name : group.names()) {
        params.add(new AdamW.Param(name, group.value(name), group.grad(name)));
      }
    }
    AdamW optimizer = new AdamW(params, 0.9, 0.999, 1e-8, 0.01);
    long start = System.nanoTime();
    for (PackedBatch batch : batches) {
      fresh.projector().parameters().zeroGrads();
      fresh.decoder().parameters().zeroGrads();
      Tensor features = CPU.zeros(batch.images(), feature.dim(1), feature.dim(2));
      for (int i = 0; i < batch.images(); i++) {
        CPU.copy(feature.get(0), features.get(i));
      }
      vlm.forwardBackward(batch.batch(), features);
      optimizer.step(1e-4);
    }
    return (System.nanoTime() - start) / 1e9;
  }
}
