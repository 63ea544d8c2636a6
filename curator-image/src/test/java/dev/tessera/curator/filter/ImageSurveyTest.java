package dev.tessera.curator.filter;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ImageSurveyTest {
  private static BufferedImage random(int width, int height, long seed) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
    byte[] data = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
    SplittableRandom random = new SplittableRandom(seed);
    random.nextBytes(data);
    return image;
  }

  @Test
  void theRasterFastPathMeasuresWhatGetRgbMeasures() {
    for (int[] size : new int[][] {{352, 209}, {40, 700}, {1200, 90}, {7, 5}}) {
      BufferedImage image = random(size[0], size[1], size[0]);
      // A sub-image shares the raster through a parent: the survey reads it with getRGB.
      BufferedImage viaGetRgb = image.getSubimage(0, 0, size[0], size[1]);
      ImageSurvey fast = ImageSurvey.of(image);
      ImageSurvey slow = ImageSurvey.of(viaGetRgb);
      assertThat(fast.contrast()).isEqualTo(slow.contrast());
      for (int y = 0; y < ImageSurvey.CELLS; y++) {
        assertThat(fast.grey()[y]).containsExactly(slow.grey()[y]);
      }
    }
  }

  @Test
  void cellsAreTheMeansOfThePixelsTheyCover() {
    BufferedImage image = new BufferedImage(128, 64, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 64; y++) {
      for (int x = 0; x < 128; x++) {
        image.setRGB(x, y, x % 2 == 0 ? 0xffffff : 0x000000);
      }
    }
    ImageSurvey survey = ImageSurvey.of(image);
    // Each cell covers two columns, one white and one black: mean 127.5; contrast 127.5.
    assertThat(survey.grey()[10][20]).isEqualTo(127.5);
    assertThat(survey.contrast()).isEqualTo(127.5);
  }
}
