package dev.tessera.model.vlm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.data.synth.SynthGenerator;
import dev.tessera.data.synth.SynthOptions;
import dev.tessera.data.synth.SynthProgress;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardList;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.engine.optim.AdamW;
import dev.tessera.engine.optim.GradClip;
import dev.tessera.engine.optim.LrSchedule;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.siglip.SiglipVisionTower;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole tiny VLM learns to caption the synthetic scenes: frozen random SigLIP tower, trained
 * projector and decoder, a few hundred AdamW steps on CPU. The caption loss must fall well below
 * its starting value, and a caption must be more likely under its own image than under another's.
 */
class TinyVlmTrainingTest {
  private static final int SAMPLES = 96;
  private static final int ROWS = 8;
  private static final int STEPS = 300;
  private static final int BOS = 0;
  private static final int EOS = 1;
  private static final int PAD = 2;
  private final CpuBackend cpu = CpuBackend.get();

  @TempDir Path dir;

  private record Example(Tensor features, int[] words) {}

  @Test
  void captionLossFallsAndMatchesTheirImages() throws IOException {
    SynthGenerator.generate(new SynthOptions(dir, 1, SAMPLES, 17, 0.0, 2), SynthProgress.NONE);
    List<BufferedImage> images = new ArrayList<>();
    List<String> captions = new ArrayList<>();
    try (WebDatasetReader reader = WebDatasetReader.open(ShardList.resolve(dir, "."))) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        images.add(ImageIO.read(sample.openImage().orElseThrow()));
        captions.add(sample.caption().orElseThrow());
      }
    }
    assertThat(images).hasSize(SAMPLES);

    // Frozen tower with random weights: 32x32 images, 8x8 patches -> a 4x4 grid of features.
    SiglipVisionConfig visionConfig =
        new SiglipVisionConfig(32, 64, 2, 4, 32, 8, 3, 1e-6, "gelu_pytorch_tanh", false);
    SiglipVisionTower tower = new SiglipVisionTower(cpu, visionConfig);
    tower.parameters().initialise(1, 0.2);
    Tensor features = tower.features(new SiglipImageProcessor(32).batch(cpu, images));
    int grid = visionConfig.patchesPerSide();

    Map<String, Integer> vocabulary = new LinkedHashMap<>();
    vocabulary.put("<s>", BOS);
    vocabulary.put("</s>", EOS);
    vocabulary.put("<pad>", PAD);
    List<Example> examples = new ArrayList<>();
    for (int i = 0; i < SAMPLES; i++) {
      String[] words = captions.get(i).toLowerCase(Locale.ROOT).split("[^a-z]+");
      List<Integer> ids = new ArrayList<>();
      for (String word : words) {
        if (!word.isEmpty()) {
          ids.add(vocabulary.computeIfAbsent(word, w -> vocabulary.size()));
        }
      }
      examples.add(
          new Example(
              features.get(i).view(1, grid * grid, 32), ids.stream().mapToInt(x -> x).toArray()));
    }
    int maxWords = examples.stream().mapToInt(e -> e.words().length).max().orElseThrow();
    int imageTokens = grid * grid;
    int tokens = 1 + imageTokens + maxWords + 1;

    Qwen2Config config =
        new Qwen2Config(
            64, 128, 2, 4, 2, vocabulary.size(), 1e-6, 10000.0, false, tokens, "float32");
    AvgPoolProjector projector = new AvgPoolProjector(cpu, 32, 64, grid, grid);
    projector.parameters().initialise(2, 0.1);
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(3, 0.05);
    OpenQwen2VL model = new OpenQwen2VL(cpu, projector, decoder);
    List<AdamW.Param> params = new ArrayList<>();
    for (Parameters group : List.of(projector.parameters(), decoder.parameters())) {
      for (String name : group.names()) {
        params.add(new AdamW.Param(name, group.value(name), group.grad(name)));
      }
    }
    AdamW optimizer = new AdamW(params, 0.9, 0.95, 1e-8, 0.01);
    LrSchedule schedule = new LrSchedule(3e-3, 3e-4, 20, STEPS);
    List<Tensor> grads =
        List.of(projector.parameters().flatGrads(), decoder.parameters().flatGrads());

    Random random = new Random(5);
    double first = 0;
    double last = 0;
    for (int step = 0; step < STEPS; step++) {
      List<Example> batch = new ArrayList<>();
      List<int[]> captionsOf = new ArrayList<>();
      for (int r = 0; r < ROWS; r++) {
        Example example = examples.get(random.nextInt(SAMPLES));
        batch.add(example);
        captionsOf.add(example.words());
      }
      projector.parameters().zeroGrads();
      decoder.parameters().zeroGrads();
      double loss =
          model.forwardBackward(rows(batch, captionsOf, tokens, imageTokens), stack(batch, grid));
      GradClip.clip(grads, 1.0);
      optimizer.step(schedule.lr(step));
      if (step < 10) {
        first += loss / 10;
      }
      if (step >= STEPS - 20) {
        last += loss / 20;
      }
    }
    System.out.printf(
        "tiny VLM: caption loss %.3f (first 10 steps) -> %.3f (last 20 of %d), vocabulary %d%n",
        first, last, STEPS, vocabulary.size());
    assertThat(last).isLessThan(0.5 * first);

    // A caption is more likely under its own image than under another image.
    int better = 0;
    int pairs = 24;
    for (int i = 0; i < pairs; i++) {
      Example own = examples.get(i);
      Example other = examples.get((i + 1 + random.nextInt(SAMPLES - 1)) % SAMPLES);
      double ownLoss = loss(model, own, own.words(), tokens, imageTokens, grid);
      double swappedLoss = loss(model, other, own.words(), tokens, imageTokens, grid);
      if (ownLoss < swappedLoss) {
        better++;
      }
    }
    System.out.printf("own image gives the lower caption loss in %d of %d pairs%n", better, pairs);
    assertThat(better).isGreaterThanOrEqualTo(pairs * 3 / 4);
  }

  private double loss(
      OpenQwen2VL model, Example image, int[] words, int tokens, int imageTokens, int grid) {
    double loss =
        model.forwardBackward(
            rows(List.of(image), List.of(words), tokens, imageTokens), stack(List.of(image), grid));
    model.projector().parameters().zeroGrads();
    model.decoder().parameters().zeroGrads();
    return loss;
  }

  /** Rows {@code <s> IMAGE x k w1 .. wn </s> <pad> ..}; loss on the caption words and EOS. */
  private static Qwen2Batch rows(
      List<Example> images, List<int[]> captions, int tokens, int imageTokens) {
    int rows = images.size();
    int[] ids = new int[rows * tokens];
    int[] targets = new int[rows * tokens];
    boolean[] visual = new boolean[rows * tokens];
    java.util.Arrays.fill(ids, PAD);
    java.util.Arrays.fill(targets, CrossEntropy.IGNORE_INDEX);
    for (int r = 0; r < rows; r++) {
      int base = r * tokens;
      int[] words = captions.get(r);
      ids[base] = BOS;
      for (int k = 0; k < imageTokens; k++) {
        visual[base + 1 + k] = true;
      }
      int first = base + 1 + imageTokens;
      for (int w = 0; w < words.length; w++) {
        ids[first + w] = words[w];
      }
      ids[first + words.length] = EOS;
      for (int p = first - 1; p < first + words.length; p++) {
        targets[p] = ids[p + 1];
      }
    }
    int[] positions = new int[rows * tokens];
    for (int i = 0; i < positions.length; i++) {
      positions[i] = i % tokens;
    }
    return new Qwen2Batch(
        rows, tokens, ids, positions, targets, AttentionMask.CONTINUOUS, null, null, visual);
  }

  private Tensor stack(List<Example> images, int grid) {
    Tensor stacked = cpu.zeros(images.size(), grid * grid, 32);
    for (int i = 0; i < images.size(); i++) {
      cpu.copy(images.get(i).features(), stacked.get(i).view(1, grid * grid, 32));
    }
    return stacked;
  }
}
