package dev.tessera.model.vlm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.text.CaptionLayout;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Generation with the prompt's keys and values cached against the plain way: the whole sequence
 * through the model again for every token.
 */
class GeneratorTest {
  private static final CpuBackend CPU = CpuBackend.get();
  private static final int VOCABULARY = 300;
  private static final int PAD = 299;

  private static VisionLanguageModel model() {
    return RandomVlm.of(
        CPU,
        new Qwen2Config(32, 64, 2, 4, 2, VOCABULARY, 1e-6, 1e4, true, 512, "float32"),
        2,
        3,
        0.5);
  }

  private static BufferedImage image() {
    BufferedImage image = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
    SplittableRandom random = new SplittableRandom(5);
    for (int y = 0; y < 30; y++) {
      for (int x = 0; x < 40; x++) {
        image.setRGB(x, y, random.nextInt(1 << 24));
      }
    }
    return image;
  }

  /** Greedy decoding, every step running the whole sequence (image included) from scratch. */
  private static List<Integer> plainGreedy(
      VisionLanguageModel model, int[] prompt, BufferedImage image, int count) {
    int visual = model.projector().tokensPerImage();
    List<Integer> sequence = new ArrayList<>();
    for (int id : prompt) {
      if (id == CaptionLayout.IMAGE) {
        for (int i = 0; i < visual; i++) {
          sequence.add(-1);
        }
      } else {
        sequence.add(id);
      }
    }
    Tensor features =
        image == null
            ? null
            : model
                .tower()
                .features(
                    SiglipImageProcessor.forTower(model.tower().config())
                        .batch(CPU, List.of(image)));
    List<Integer> out = new ArrayList<>();
    for (int step = 0; step < count; step++) {
      int t = sequence.size();
      int[] ids = new int[t];
      int[] positions = new int[t];
      boolean[] visualAt = new boolean[t];
      for (int i = 0; i < t; i++) {
        visualAt[i] = sequence.get(i) < 0;
        ids[i] = visualAt[i] ? PAD : sequence.get(i);
        positions[i] = i;
      }
      Tensor logits;
      if (image == null) {
        logits = model.decoder().lastLogits(Qwen2Batch.text(1, t, ids, new int[t]));
      } else {
        logits =
            model
                .vlm(CPU)
                .lastLogits(
                    new Qwen2Batch(
                        1,
                        t,
                        ids,
                        positions,
                        new int[t],
                        AttentionMask.CONTINUOUS,
                        null,
                        null,
                        visualAt),
                    features);
      }
      int next = Generator.choose(CPU.toHost(logits), VOCABULARY, 0, null);
      out.add(next);
      sequence.add(next);
    }
    return out;
  }

  private static List<Integer> list(int[] ids) {
    List<Integer> list = new ArrayList<>();
    for (int id : ids) {
      list.add(id);
    }
    return list;
  }

  @Test
  void greedyTokensWithAnImageAreThoseOfTheWholeSequenceEachTime() {
    VisionLanguageModel model = model();
    int[] prompt = {7, CaptionLayout.IMAGE, 12, 40, 41};
    BufferedImage image = image();
    int[] generated =
        Generator.generate(CPU, model, prompt, image, PAD, new Generator.Settings(12, 0, 1));
    assertThat(generated).hasSize(12);
    // Varied tokens, so that a wrong cache could not match by chance.
    assertThat(java.util.Arrays.stream(generated).distinct().count()).isGreaterThan(3);
    assertThat(list(generated)).isEqualTo(plainGreedy(model, prompt, image, 12));
  }

  @Test
  void greedyTokensWithoutAnImageAreThoseOfTheWholeSequenceEachTime() {
    VisionLanguageModel model = model();
    int[] prompt = {7, 100, 101, 102};
    int[] generated =
        Generator.generate(CPU, model, prompt, null, PAD, new Generator.Settings(10, 0, 1));
    assertThat(list(generated)).isEqualTo(plainGreedy(model, prompt, null, 10));
  }

  @Test
  void aStopTokenEndsTheTextAndIsNotPartOfIt() {
    VisionLanguageModel model = model();
    int[] prompt = {7, 100, 101, 102};
    List<Integer> free = plainGreedy(model, prompt, null, 6);
    int stop = free.get(3);
    int end = free.indexOf(stop);
    int[] generated =
        Generator.generate(
            CPU, model, prompt, null, PAD, new Generator.Settings(6, 0, 1, Set.of(stop), 0));
    assertThat(list(generated)).isEqualTo(free.subList(0, end));
  }

  @Test
  void samplingRepeatsWithItsSeedAndFollowsTheTemperature() {
    VisionLanguageModel model = model();
    int[] prompt = {7, 100, 101, 102};
    int[] first =
        Generator.generate(CPU, model, prompt, null, PAD, new Generator.Settings(16, 1.0, 42));
    int[] again =
        Generator.generate(CPU, model, prompt, null, PAD, new Generator.Settings(16, 1.0, 42));
    int[] otherSeed =
        Generator.generate(CPU, model, prompt, null, PAD, new Generator.Settings(16, 1.0, 43));
    assertThat(again).containsExactly(first);
    assertThat(otherSeed).isNotEqualTo(first);
    // A temperature near zero samples what greedy decoding picks.
    int[] cold =
        Generator.generate(CPU, model, prompt, null, PAD, new Generator.Settings(8, 1e-6, 42));
    assertThat(list(cold)).isEqualTo(plainGreedy(model, prompt, null, 8));
  }

  @Test
  void samplingDrawsInProportionToTheTemperedProbabilities() {
    float[] logits = {0, (float) Math.log(3), -100};
    SplittableRandom random = new SplittableRandom(9);
    int[] counts = new int[3];
    for (int i = 0; i < 40_000; i++) {
      counts[Generator.choose(logits, 3, 1.0, random)]++;
    }
    // p = 1/4, 3/4, ~0: four standard deviations is about 350.
    assertThat(counts[0]).isBetween(10_000 - 350, 10_000 + 350);
    assertThat(counts[2]).isZero();
  }

  /** Ids past the tokenizer's vocabulary are never chosen, however likely. */
  @Test
  void idsPastTheTokenizersVocabularyAreNeverChosen() {
    float[] logits = {0, 1, 2, 50, 60};
    assertThat(Generator.choose(logits, 3, 0, null)).isEqualTo(2);
    SplittableRandom random = new SplittableRandom(1);
    for (int i = 0; i < 1000; i++) {
      assertThat(Generator.choose(logits, 3, 1.0, random)).isLessThan(3);
    }
    VisionLanguageModel model = model();
    int[] prompt = {7, 100, 101, 102};
    List<Integer> free = plainGreedy(model, prompt, null, 1);
    assertThat(free.get(0)).as("the unlimited choice, the limit below").isPositive();
    int[] limited =
        Generator.generate(
            CPU, model, prompt, null, PAD, new Generator.Settings(1, 0, 1, Set.of(), free.get(0)));
    assertThat(limited[0]).isLessThan(free.get(0));
  }

  @Test
  void badPromptsAndSettingsAreRefused() {
    VisionLanguageModel model = model();
    Generator.Settings settings = new Generator.Settings(4, 0, 1);
    assertThatThrownBy(
            () -> Generator.generate(CPU, model, new int[] {1, 2}, image(), PAD, settings))
        .hasMessage("the prompt has 0 image places for one image");
    assertThatThrownBy(
            () ->
                Generator.generate(
                    CPU, model, new int[] {1, CaptionLayout.IMAGE}, null, PAD, settings))
        .hasMessage("the prompt has 1 image places for no image");
    assertThatThrownBy(
            () -> Generator.generate(CPU, model, new int[] {1, VOCABULARY}, null, PAD, settings))
        .hasMessage("prompt token 300 is outside the model's vocabulary of 300");
    assertThatThrownBy(() -> new Generator.Settings(0, 0, 1)).hasMessageContaining("--max-tokens");
    assertThatThrownBy(() -> new Generator.Settings(4, -1, 1))
        .hasMessageContaining("--temperature");
  }
}
