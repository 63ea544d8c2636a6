package dev.tessera.curator.curate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.text.QwenTokenizerFiles;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The batched scorer (images through the tower together, prompts through the decoder once, the
 * answers as continuations over cached keys and values) against the plain way: every answer prefix
 * run through the whole model from scratch, one sample at a time ({@code scoreRecomputing}, whose
 * forward is the decoder's, checked against libtorch).
 */
class MlmFilterScorerTest {
  private static final String TEMPLATE = "Rate the caption. Text Caption: {caption}";
  @TempDir Path dir;

  private static BufferedImage image(Color color, int width, int height) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    var graphics = image.createGraphics();
    graphics.setColor(color);
    graphics.fillRect(0, 0, width, height);
    graphics.setColor(Color.WHITE);
    graphics.fillRect(width / 3, height / 3, width / 3, height / 4);
    graphics.dispose();
    return image;
  }

  @Test
  void batchedScoresAreThoseOfRunningEveryPrefixWhole() throws IOException {
    CpuBackend cpu = CpuBackend.get();
    List<BufferedImage> images =
        List.of(image(Color.RED, 40, 30), image(Color.BLUE, 32, 32), image(Color.GRAY, 20, 50));
    // Captions of different lengths: the batch's prompts are padded to the longest.
    List<String> captions =
        List.of("a red box", "a blue square on a white wall in the morning sun", "grey");
    try (QwenTokenizer qwen = QwenTokenizer.load(QwenTokenizerFiles.tokenizerJson())) {
      int[] digits = new int[10];
      for (int d = 0; d < 10; d++) {
        digits[d] = qwen.encodeIds(Integer.toString(d))[0];
      }
      // A model that answers in digits, so the greedy readout reads numbers.
      Path model = dir.resolve("vlm");
      TinyImageText.writeVlm(model, digits);
      // maxNewTokens 3: the greedy answer may need a third digit outside the planned tree.
      MlmFilterScorer scorer = new MlmFilterScorer(cpu, model, null, qwen, TEMPLATE, 0, 3);
      List<MlmFilterScorer.Score> batched = scorer.score(images, captions);

      int threeDigits = 0;
      for (int i = 0; i < images.size(); i++) {
        MlmFilterScorer.Score plain = scorer.scoreRecomputing(images.get(i), captions.get(i));
        assertThat(batched.get(i).expected())
            .as("expected %d", i)
            .isCloseTo(plain.expected(), within(1e-4));
        assertThat(plain.greedy()).as("the model answers with a number").isBetween(0.0, 999.0);
        assertThat(batched.get(i).greedy()).as("greedy %d", i).isEqualTo(plain.greedy());
        threeDigits += plain.greedy() >= 100 ? 1 : 0;
        // And one at a time through the batched path.
        assertThat(scorer.score(images.get(i), captions.get(i)).expected())
            .isCloseTo(plain.expected(), within(1e-4));
      }
      // A third greedy digit (not after "10") is outside the planned tree: that path ran too.
      assertThat(threeDigits).isPositive();
    }
  }

  @Test
  void aLlavaCheckpointWithItsClipTowerScoresTheSameBatchedAndPlain() throws IOException {
    CpuBackend cpu = CpuBackend.get();
    Path model = dir.resolve("llava");
    Path tower = dir.resolve("clip-tower");
    TinyImageText.writeLlava(model, tower);
    List<BufferedImage> images = List.of(image(Color.RED, 40, 30), image(Color.BLUE, 20, 50));
    List<String> captions = List.of("a red box", "a tall blue picture");
    try (QwenTokenizer qwen = QwenTokenizer.load(QwenTokenizerFiles.tokenizerJson())) {
      MlmFilterScorer scorer = new MlmFilterScorer(cpu, model, tower, qwen, TEMPLATE, 0, 3);
      // The CLIP tower's 4 x 4 patches, all read by the projector: 16 image positions.
      assertThat(java.util.Arrays.stream(scorer.prompt("x")).filter(id -> id < 0).count())
          .isEqualTo(16);
      List<MlmFilterScorer.Score> batched = scorer.score(images, captions);
      for (int i = 0; i < images.size(); i++) {
        MlmFilterScorer.Score plain = scorer.scoreRecomputing(images.get(i), captions.get(i));
        assertThat(batched.get(i).expected()).isBetween(0.0, 100.0);
        assertThat(batched.get(i).expected()).isCloseTo(plain.expected(), within(1e-4));
      }
    }
  }
}
