package dev.tessera.model.clip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.model.siglip.SiglipImageProcessor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClipImageProcessorTest {
  @TempDir Path dir;

  @Test
  void theShorterSideIsResizedToTheEdgeAndTheLongerTruncatedAsTransformersDoes() {
    ClipImageProcessor processor = ClipImageProcessor.openai(224);
    // int(224 * 640 / 480) = int(298.67) = 298
    assertThat(processor.resizedSize(640, 480)).containsExactly(298, 224);
    assertThat(processor.resizedSize(480, 640)).containsExactly(224, 298);
    assertThat(processor.resizedSize(100, 100)).containsExactly(224, 224);
    assertThat(processor.resizedSize(1000, 7)).containsExactly(32000, 224);
  }

  /** An image whose value at (y, x), channel c, is 10 y + x + 100 c (mod 256). */
  private static int[] pattern(int width, int height) {
    int[] rgb = new int[width * height * 3];
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        for (int c = 0; c < 3; c++) {
          rgb[(y * width + x) * 3 + c] = (10 * y + x + 100 * c) % 256;
        }
      }
    }
    return rgb;
  }

  @Test
  void theCropStartsAtFloorOfHalfTheSurplusAndPadsWithBlack() {
    // 7 x 5 to 3 x 3: top = (5 - 3) // 2 = 1, left = (7 - 3) // 2 = 2.
    int[] crop = ClipImageProcessor.centerCrop(pattern(7, 5), 7, 5, 3);
    assertThat(crop[0]).isEqualTo(10 + 2);
    assertThat(crop[(2 * 3 + 2) * 3 + 1]).isEqualTo(30 + 4 + 100);
    // 6 wide to 3: left = 3 // 2 = 1.
    assertThat(ClipImageProcessor.centerCrop(pattern(6, 3), 6, 3, 3)[0]).isEqualTo(1);
    // 2 high to 5: top = (2 - 5) // 2 = -2, so two black rows, the image's two rows, one black row
    // (transformers pads ceil(3 / 2) = 2 rows before the image).
    int[] padded = ClipImageProcessor.centerCrop(pattern(5, 2), 5, 2, 5);
    for (int x = 0; x < 5; x++) {
      assertThat(padded[(0 * 5 + x) * 3]).isZero();
      assertThat(padded[(1 * 5 + x) * 3]).isZero();
      assertThat(padded[(2 * 5 + x) * 3]).isEqualTo(x);
      assertThat(padded[(3 * 5 + x) * 3]).isEqualTo(10 + x);
      assertThat(padded[(4 * 5 + x) * 3]).isZero();
    }
  }

  @Test
  void pixelsAreTheResizedCropNormalisedPerChannel() {
    Random random = new Random(3);
    BufferedImage image = new BufferedImage(50, 30, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 30; y++) {
      for (int x = 0; x < 50; x++) {
        image.setRGB(x, y, random.nextInt(1 << 24));
      }
    }
    ClipImageProcessor processor = ClipImageProcessor.openai(16);
    float[] pixels = processor.preprocess(image);
    assertThat(pixels).hasSize(3 * 16 * 16);
    // 50 x 30 -> int(16 * 50 / 30) = 26 x 16, cropped from left (26 - 16) // 2 = 5.
    int[] resized =
        SiglipImageProcessor.resizeBicubic(SiglipImageProcessor.rgb(image), 50, 30, 26, 16);
    for (int y = 0; y < 16; y += 5) {
      for (int x = 0; x < 16; x += 3) {
        for (int c = 0; c < 3; c++) {
          float expected =
              ((float) (resized[(y * 26 + x + 5) * 3 + c] * (1.0 / 255))
                      - ClipImageProcessor.OPENAI_MEAN[c])
                  / ClipImageProcessor.OPENAI_STD[c];
          assertThat(pixels[c * 256 + y * 16 + x]).isEqualTo(expected);
        }
      }
    }
  }

  @Test
  void theCheckpointsPreprocessorConfigIsRead() throws IOException {
    assertThat(ClipImageProcessor.forModel(dir, 224).shortestEdge()).isEqualTo(224);
    Files.writeString(
        dir.resolve("preprocessor_config.json"),
        "{\"size\": {\"shortest_edge\": 256}, \"crop_size\": {\"height\": 224, \"width\": 224},"
            + " \"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0.5, 0.5], \"resample\": 3}");
    ClipImageProcessor processor = ClipImageProcessor.forModel(dir, 224);
    assertThat(processor.shortestEdge()).isEqualTo(256);
    assertThat(processor.crop()).isEqualTo(224);
    BufferedImage white = new BufferedImage(300, 300, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 300; y++) {
      for (int x = 0; x < 300; x++) {
        white.setRGB(x, y, 0xffffff);
      }
    }
    assertThat(processor.preprocess(white)[0]).isEqualTo(1f); // (1 - 0.5) / 0.5
    Files.writeString(dir.resolve("preprocessor_config.json"), "{\"crop_size\": 336}");
    assertThatThrownBy(() -> ClipImageProcessor.forModel(dir, 224))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("preprocessor_config.json")
        .hasMessageContaining("crop_size 336 differs from the tower's image_size 224");
    Files.writeString(dir.resolve("preprocessor_config.json"), "{\"resample\": 2}");
    assertThatThrownBy(() -> ClipImageProcessor.forModel(dir, 224))
        .hasMessageContaining("resample 2 is not bicubic");
    Files.writeString(
        dir.resolve("preprocessor_config.json"),
        "{\"crop_size\": {\"height\": 224, \"width\": 200}}");
    assertThatThrownBy(() -> ClipImageProcessor.forModel(dir, 224))
        .hasMessageContaining("crop_size must be square");
    Files.writeString(dir.resolve("preprocessor_config.json"), "{\"image_std\": [0.5, 0, 0.5]}");
    assertThatThrownBy(() -> ClipImageProcessor.forModel(dir, 224))
        .hasMessageContaining("image_std values must be positive");
  }
}
