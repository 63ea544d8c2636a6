package dev.tessera.curator.curate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.clip.ClipModel;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.siglip.SiglipModel;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClipScorerTest {
  @TempDir Path dir;
  private final CpuBackend cpu = CpuBackend.get();

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

  private static final List<BufferedImage> IMAGES =
      List.of(image(Color.RED, 60, 40), image(Color.BLUE, 33, 47), image(Color.GREEN, 32, 32));
  private static final List<String> CAPTIONS = List.of("a red circle", "a blue square", "zebra");

  @Test
  void siglipCaptionsArePaddedToTheTowersLengthAndKeepTheirEndWhenCut() throws IOException {
    TinyImageText.writeSiglip(dir, 3);
    try (ClipScorer scorer = new ClipScorer(cpu, dir, dir.resolve("tokenizer.json"), 0, null)) {
      // "a red cat" -> a, red, cat, </s>; padded with <pad> (0) to the 8 positions.
      assertThat(scorer.captionIds("A red Cat")).containsExactly(3, 4, 7, 1);
      assertThat(scorer.captions(List.of("A red Cat")).ids())
          .containsExactly(3, 4, 7, 1, 0, 0, 0, 0);
      // Longer than 8 tokens: cut as Hugging Face truncates, keeping </s>.
      assertThat(scorer.captionIds("a red cat on the grass a blue dog"))
          .containsExactly(3, 4, 7, 11, 12, 13, 3, 1);
      // An unknown word is <unk>, not an error.
      assertThat(scorer.captionIds("zebra")).containsExactly(2, 1);

      List<ClipScorer.Score> scores = scorer.score(IMAGES, CAPTIONS);
      SiglipModel model = SiglipModel.load(cpu, dir);
      ClipScorer.Captions captions = scorer.captions(CAPTIONS);
      assertThat(captions.tokens()).isEqualTo(TinyImageText.TOKENS);
      double[] expected =
          model.cosines(
              SiglipImageProcessor.forTower(model.vision().config()).batch(cpu, IMAGES),
              captions.ids(),
              captions.tokens());
      for (int i = 0; i < 3; i++) {
        assertThat(scores.get(i).cosine()).isCloseTo(expected[i], within(1e-6));
        assertThat(scores.get(i).cosine()).isBetween(-1.0, 1.0);
        assertThat(scores.get(i).probability())
            .isCloseTo(model.probability(expected[i]), within(1e-9));
      }
    }
  }

  /**
   * A SigLIP checkpoint as Google published it, with {@code spiece.model} and no tokenizer.json:
   * found in the model directory, captions canonicalised (case, punctuation) and padded with {@code
   * </s>} as SiglipTokenizer pads; the scores equal those of the same ids through the
   * tokenizer.json. A {@code tokenizer_config.json} beside it names another pad token.
   */
  @Test
  void siglipWithASentencePieceModelScoresAsItsTokenizerJson() throws IOException {
    Path json = dir.resolve("json");
    TinyImageText.writeSiglip(json, 5);
    Path spiece = dir.resolve("spiece");
    TinyImageText.writeSiglip(spiece, 5);
    Files.delete(spiece.resolve("tokenizer.json"));
    SentencePieceModelFile.write(
        spiece.resolve("spiece.model"), List.of("<pad>", "</s>", "<unk>"), TinyImageText.WORDS);
    List<String> raw = List.of("A red circle!", "a blue, BLUE square...", "the (green) grass");
    List<String> plain = List.of("a red circle", "a blue blue square", "the green grass");
    try (ClipScorer fromModel = new ClipScorer(cpu, spiece, null, 0, null);
        ClipScorer fromJson = new ClipScorer(cpu, json, null, 0, "</s>")) {
      assertThat(fromModel.captions(raw).ids()).containsExactly(fromJson.captions(plain).ids());
      assertThat(fromModel.captions(raw).ids()).startsWith(3, 4, 10, 1, 1, 1, 1, 1);
      List<ClipScorer.Score> expected = fromJson.score(IMAGES, plain);
      List<ClipScorer.Score> scores = fromModel.score(IMAGES, raw);
      for (int i = 0; i < 3; i++) {
        assertThat(scores.get(i).cosine()).isCloseTo(expected.get(i).cosine(), within(1e-9));
        assertThat(scores.get(i).probability())
            .isCloseTo(expected.get(i).probability(), within(1e-9));
      }
    }
    Files.writeString(
        spiece.resolve("tokenizer_config.json"),
        "{\"pad_token\": {\"content\": \"<pad>\", \"special\": true}, \"do_lower_case\": true}");
    try (ClipScorer scorer = new ClipScorer(cpu, spiece, spiece.resolve("spiece.model"), 0, null)) {
      assertThat(scorer.captions(List.of("A red Cat")).ids())
          .containsExactly(3, 4, 7, 1, 0, 0, 0, 0);
    }
    Files.delete(spiece.resolve("spiece.model"));
    assertThatThrownBy(() -> new ClipScorer(cpu, spiece, null, 0, null))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("tokenizer.json (nor spiece.model there; name the tokenizer)");
  }

  @Test
  void clipCaptionsAreWrappedInStartAndEndAndABatchIsPaddedOnlyToItsLongest() throws IOException {
    // Both pooling rules: the end-of-text id (13), and OpenAI's old configs (2: the largest id).
    for (int eosTokenId : new int[] {TinyImageText.CLIP_END, 2}) {
      Path model = dir.resolve("clip-" + eosTokenId);
      ClipModel clip = TinyImageText.writeClip(model, 3, eosTokenId);
      int start = TinyImageText.CLIP_START;
      int end = TinyImageText.CLIP_END;
      try (ClipScorer scorer =
          new ClipScorer(cpu, model, model.resolve("tokenizer.json"), 0, null)) {
        assertThat(scorer.model()).isInstanceOf(ClipModel.class);
        assertThat(scorer.captionIds("A red Cat")).containsExactly(start, 1, 2, 5, end);
        // Nine words into 8 positions: the start, six words and the end-of-text stay.
        assertThat(scorer.captionIds("a red cat on the grass a blue dog"))
            .containsExactly(start, 1, 2, 5, 9, 10, 11, end);
        ClipScorer.Captions captions = scorer.captions(CAPTIONS);
        // "a blue square" is the longest: 5 tokens; shorter ones padded with id 0.
        assertThat(captions.tokens()).isEqualTo(5);
        assertThat(captions.ids())
            .containsExactly(start, 1, 2, 8, end, start, 1, 4, 7, end, start, 0, end, 0, 0);

        List<ClipScorer.Score> scores = scorer.score(IMAGES, CAPTIONS);
        double[] expected =
            clip.cosines(clip.pixels(cpu, IMAGES), captions.ids(), captions.tokens());
        for (int i = 0; i < 3; i++) {
          assertThat(scores.get(i).cosine()).isCloseTo(expected[i], within(1e-6));
          assertThat(scores.get(i).probability()).isNaN();
          // Scored alone, without padding, a caption gets the same cosine.
          double alone =
              scorer.score(List.of(IMAGES.get(i)), List.of(CAPTIONS.get(i))).get(0).cosine();
          assertThat(alone).isCloseTo(expected[i], within(1e-6));
        }
      }
    }
  }

  @Test
  void badSettingsAreNamed() throws IOException {
    TinyImageText.writeSiglip(dir, 4);
    assertThatThrownBy(() -> new ClipScorer(cpu, dir, dir.resolve("tokenizer.json"), 0, "pad me"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("padToken 'pad me'");
    assertThatThrownBy(() -> new ClipScorer(cpu, dir, dir.resolve("tokenizer.json"), 9, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxTokens 9 is outside 0..8");
    assertThatThrownBy(() -> new ClipScorer(cpu, dir, dir.resolve("missing.json"), 0, null))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("missing.json");
  }
}
