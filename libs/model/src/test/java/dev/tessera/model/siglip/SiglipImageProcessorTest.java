package dev.tessera.model.siglip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.data.testing.Python;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SiglipImageProcessorTest {
  private static final int S = 16;

  private static final String PILLOW_RESIZE =
      String.join(
          "\n",
          "import sys",
          "from PIL import Image",
          "bicubic = getattr(Image, 'Resampling', Image).BICUBIC",
          "size = int(sys.argv[1])",
          "for path in sys.argv[2:]:",
          "    with Image.open(path) as image:",
          "        out = image.convert('RGB').resize((size, size), bicubic)",
          "    with open(path + '.rgb', 'wb') as f:",
          "        f.write(out.tobytes())");

  /** Smooth gradients plus noise: both ringing-prone edges and flat regions. */
  private static BufferedImage randomImage(Random random, int width, int height, int type) {
    BufferedImage image = new BufferedImage(width, height, type);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        int r = (x * 255 / Math.max(1, width - 1) + random.nextInt(60)) & 0xff;
        int g = random.nextInt(256);
        int b = random.nextInt(4) == 0 ? 255 : random.nextInt(40);
        int a = random.nextInt(256);
        image.setRGB(x, y, (a << 24) | (r << 16) | (g << 8) | b);
      }
    }
    return image;
  }

  private static BufferedImage randomGray(Random random, int width, int height) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        image.getRaster().setSample(x, y, 0, random.nextInt(256));
      }
    }
    return image;
  }

  @Test
  void resizeMatchesPillowBicubic(@TempDir Path dir) throws Exception {
    String python = Python.with("PIL", "python3-pil");
    Random random = new Random(42);
    List<BufferedImage> images = new ArrayList<>();
    int[][] sizes = {{37, 23}, {10, 7}, {50, 50}, {16, 40}, {40, 16}, {5, 3}, {130, 97}};
    for (int[] size : sizes) {
      images.add(randomImage(random, size[0], size[1], BufferedImage.TYPE_INT_RGB));
    }
    images.add(randomImage(random, 20, 13, BufferedImage.TYPE_INT_ARGB)); // RGBA PNG
    images.add(randomGray(random, 29, 31)); // mode L PNG
    List<String> command = new ArrayList<>(List.of(python, "-c", PILLOW_RESIZE, "" + S));
    List<Path> files = new ArrayList<>();
    for (int i = 0; i < images.size(); i++) {
      Path file = dir.resolve("image" + i + ".png");
      assertThat(ImageIO.write(images.get(i), "png", file.toFile())).isTrue();
      files.add(file);
      command.add(file.toString());
    }
    Python.run(command);

    SiglipImageProcessor processor = new SiglipImageProcessor(S);
    int worst = 0;
    for (Path file : files) {
      BufferedImage decoded = ImageIO.read(file.toFile());
      byte[] pillow = Files.readAllBytes(Path.of(file + ".rgb"));
      int[] ours = processor.resizedRgb(decoded);
      assertThat(ours).hasSize(pillow.length);
      float[] pixels = processor.preprocess(decoded);
      for (int i = 0; i < ours.length; i++) {
        int expected = pillow[i] & 0xff;
        worst = Math.max(worst, Math.abs(ours[i] - expected));
        int c = i % 3;
        float normalised = ((float) (expected * (1.0 / 255)) - 0.5f) / 0.5f;
        assertThat(pixels[c * S * S + i / 3]).as("%s value %d", file, i).isEqualTo(normalised);
      }
    }
    // Pillow's fixed-point arithmetic is reproduced exactly.
    assertThat(worst).as("max |Tessera - Pillow| on the 0..255 scale").isZero();
  }

  @Test
  void imageOfTheTowerSizeIsNotResampled() {
    Random random = new Random(7);
    BufferedImage image = randomImage(random, S, S, BufferedImage.TYPE_INT_ARGB);
    float[] pixels = new SiglipImageProcessor(S).preprocess(image);
    assertThat(pixels).hasSize(3 * S * S);
    for (int y = 0; y < S; y++) {
      for (int x = 0; x < S; x++) {
        int argb = image.getRGB(x, y);
        int[] rgb = {(argb >>> 16) & 0xff, (argb >>> 8) & 0xff, argb & 0xff};
        for (int c = 0; c < 3; c++) {
          float expected = (rgb[c] / 255f - 0.5f) / 0.5f;
          assertThat(pixels[(c * S + y) * S + x]).isCloseTo(expected, within(1e-6f));
          assertThat(pixels[(c * S + y) * S + x])
              .isEqualTo(((float) (rgb[c] * (1.0 / 255)) - 0.5f) / 0.5f);
        }
      }
    }
    assertThat(pixels).contains(-1f).contains(1f);
  }

  @Test
  void grayIsReplicatedWithoutColourConversion() {
    BufferedImage gray = randomGray(new Random(9), S, S);
    int[] rgb = SiglipImageProcessor.rgb(gray);
    for (int y = 0; y < S; y++) {
      for (int x = 0; x < S; x++) {
        int value = gray.getRaster().getSample(x, y, 0);
        int i = (y * S + x) * 3;
        assertThat(new int[] {rgb[i], rgb[i + 1], rgb[i + 2]}).containsExactly(value, value, value);
      }
    }
  }

  @Test
  void batchIsLaidOutForTheTower() {
    Random random = new Random(1);
    SiglipImageProcessor processor = new SiglipImageProcessor(S);
    BufferedImage a = randomImage(random, 33, 20, BufferedImage.TYPE_INT_RGB);
    BufferedImage b = randomImage(random, 8, 8, BufferedImage.TYPE_INT_RGB);
    CpuBackend cpu = CpuBackend.get();
    Tensor batch = processor.batch(cpu, List.of(a, b));
    assertThat(batch.shape()).containsExactly(2, 3, S, S);
    float[] values = cpu.toHost(batch);
    assertThat(java.util.Arrays.copyOfRange(values, 3 * S * S, 6 * S * S))
        .isEqualTo(processor.preprocess(b));
    for (float v : values) {
      assertThat(v).isBetween(-1f, 1f);
    }
  }

  @Test
  void constantImageStaysConstant() throws IOException {
    BufferedImage image = new BufferedImage(45, 12, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 12; y++) {
      for (int x = 0; x < 45; x++) {
        image.setRGB(x, y, 0x80_40_c0);
      }
    }
    int[] rgb = new SiglipImageProcessor(S).resizedRgb(image);
    for (int i = 0; i < rgb.length; i += 3) {
      assertThat(new int[] {rgb[i], rgb[i + 1], rgb[i + 2]}).containsExactly(0x80, 0x40, 0xc0);
    }
  }

  @Test
  void invalidSizesAreRejected() {
    assertThatThrownBy(() -> new SiglipImageProcessor(0)).hasMessageContaining("positive");
    assertThatThrownBy(() -> SiglipImageProcessor.resizeBicubic(new int[5], 2, 1, 4, 4))
        .hasMessageContaining("rgb has 5 values");
  }

  private static org.assertj.core.data.Offset<Float> within(float tolerance) {
    return org.assertj.core.data.Offset.offset(tolerance);
  }
}
