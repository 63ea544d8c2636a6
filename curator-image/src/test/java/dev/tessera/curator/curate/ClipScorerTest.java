package dev.tessera.curator.curate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.siglip.SiglipModel;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClipScorerTest {
  @TempDir Path dir;

  private static BufferedImage image(Color color, int width, int height) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
    var graphics = image.createGraphics();
    graphics.setColor(color);
    graphics.fillRect(0, 0, width, height);
    graphics.setColor(Color.WHITE);
    graphics.fillOval(width / 4, height / 4, width / 2, height / 2);
    graphics.dispose();
    return image;
  }

  @Test
  void captionsArePaddedAndCutAsSiglipReadsThemAndScoresAreTheModelsCosines() throws IOException {
    TinySiglip.write(dir, 3);
    CpuBackend cpu = CpuBackend.get();
    try (ClipScorer scorer = new ClipScorer(cpu, dir, dir.resolve("tokenizer.json"), 0, "<pad>")) {
      // "a red cat" -> a, red, cat, </s>, then <pad> up to the 8 positions.
      assertThat(scorer.captionIds("A red Cat")).containsExactly(3, 4, 7, 1, 0, 0, 0, 0);
      // Longer than 8 tokens: cut.
      assertThat(scorer.captionIds("a red cat on the grass a blue dog"))
          .containsExactly(3, 4, 7, 11, 12, 13, 3, 6);
      List<BufferedImage> images =
          List.of(image(Color.RED, 60, 40), image(Color.BLUE, 33, 47), image(Color.GREEN, 32, 32));
      List<String> captions = List.of("a red circle", "a blue square", "zebra");
      List<ClipScorer.Score> scores = scorer.score(images, captions);
      assertThat(scores).hasSize(3);

      SiglipModel model = SiglipModel.load(cpu, dir);
      int[] ids = new int[3 * TinySiglip.TOKENS];
      for (int i = 0; i < 3; i++) {
        System.arraycopy(
            scorer.captionIds(captions.get(i)), 0, ids, i * TinySiglip.TOKENS, TinySiglip.TOKENS);
      }
      double[] expected =
          model.cosines(
              SiglipImageProcessor.forTower(model.vision().config()).batch(cpu, images),
              ids,
              TinySiglip.TOKENS);
      for (int i = 0; i < 3; i++) {
        assertThat(scores.get(i).cosine()).isCloseTo(expected[i], within(1e-6));
        assertThat(scores.get(i).cosine()).isBetween(-1.0, 1.0);
        assertThat(scores.get(i).probability())
            .isCloseTo(model.probability(expected[i]), within(1e-9));
      }
      // An unknown word is <unk>, not an error.
      assertThat(scorer.captionIds("zebra")).startsWith(2, 1, 0);
    }
  }

  @Test
  void badSettingsAreNamed() throws IOException {
    TinySiglip.write(dir, 4);
    CpuBackend cpu = CpuBackend.get();
    assertThatThrownBy(() -> new ClipScorer(cpu, dir, dir.resolve("tokenizer.json"), 0, "pad me"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("padToken 'pad me'");
    assertThatThrownBy(() -> new ClipScorer(cpu, dir, dir.resolve("tokenizer.json"), 9, "<pad>"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxTokens 9 is outside 0..8");
    assertThatThrownBy(() -> new ClipScorer(cpu, dir, dir.resolve("missing.json"), 0, "<pad>"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("missing.json");
  }
}
