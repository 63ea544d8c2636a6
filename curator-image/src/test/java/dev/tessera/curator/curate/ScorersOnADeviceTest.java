package dev.tessera.curator.curate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.testing.CheckingDeviceBackend;
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
 * The model scorers on a device backend ({@link CheckingDeviceBackend}: every op through the device
 * path, released buffers and unwritten reads caught) give the CPU's scores — what {@code curate
 * --backend cuda} runs.
 */
class ScorersOnADeviceTest {
  @TempDir Path dir;

  private static final List<BufferedImage> IMAGES =
      List.of(image(Color.RED, 60, 40), image(Color.BLUE, 33, 47), image(Color.GREEN, 32, 32));
  private static final List<String> CAPTIONS =
      List.of("a red circle", "a blue square on the grass", "zebra");

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
  void clipScoresOfBothFamiliesAreTheCpus() throws IOException {
    TinyImageText.writeSiglip(dir.resolve("siglip"), 3);
    TinyImageText.writeClip(dir.resolve("clip"), 3, TinyImageText.CLIP_END);
    for (String family : List.of("siglip", "clip")) {
      Path model = dir.resolve(family);
      Path tokenizer = model.resolve("tokenizer.json");
      List<ClipScorer.Score> cpu;
      try (ClipScorer scorer = new ClipScorer(CpuBackend.get(), model, tokenizer, 0, null)) {
        cpu = scorer.score(IMAGES, CAPTIONS);
      }
      try (ClipScorer scorer =
          new ClipScorer(new CheckingDeviceBackend(), model, tokenizer, 0, null)) {
        List<ClipScorer.Score> device = scorer.score(IMAGES, CAPTIONS);
        for (int i = 0; i < IMAGES.size(); i++) {
          assertThat(device.get(i).cosine())
              .as("%s %d", family, i)
              .isCloseTo(cpu.get(i).cosine(), within(1e-5));
        }
      }
    }
  }

  @Test
  void mlmFilterScoresOfBothLayoutsAreTheCpus() throws IOException {
    TinyImageText.writeVlm(dir.resolve("tessera"));
    TinyImageText.writeLlava(dir.resolve("llava"), dir.resolve("tower"));
    try (QwenTokenizer qwen = QwenTokenizer.load(QwenTokenizerFiles.tokenizerJson())) {
      for (String layout : List.of("tessera", "llava")) {
        Path model = dir.resolve(layout);
        Path tower = layout.equals("llava") ? dir.resolve("tower") : null;
        String template = "Rate it. Text Caption: {caption}";
        List<MlmFilterScorer.Score> cpu =
            new MlmFilterScorer(CpuBackend.get(), model, tower, qwen, template, 0, 3)
                .score(IMAGES, CAPTIONS);
        List<MlmFilterScorer.Score> device =
            new MlmFilterScorer(new CheckingDeviceBackend(), model, tower, qwen, template, 0, 3)
                .score(IMAGES, CAPTIONS);
        for (int i = 0; i < IMAGES.size(); i++) {
          assertThat(device.get(i).expected())
              .as("%s %d", layout, i)
              .isCloseTo(cpu.get(i).expected(), within(1e-4));
          assertThat(device.get(i).greedy()).isEqualTo(Double.valueOf(cpu.get(i).greedy()));
        }
      }
    }
  }
}
