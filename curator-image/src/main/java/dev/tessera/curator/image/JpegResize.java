package dev.tessera.curator.image;

import dev.tessera.data.synth.ImageFormat;
import dev.tessera.model.siglip.SiglipImageProcessor;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;

/**
 * Resizes an image with Pillow's antialiased bicubic filter (what the reference's preprocessing and
 * img2dataset use) and encodes the result as JPEG.
 */
public final class JpegResize {
  private JpegResize() {}

  /** {@code image} resized to {@code width × height}, as JPEG bytes of {@code quality} (0..1). */
  public static byte[] resize(BufferedImage image, int width, int height, float quality) {
    int[] rgb = SiglipImageProcessor.rgb(image);
    int[] resized =
        SiglipImageProcessor.resizeBicubic(rgb, image.getWidth(), image.getHeight(), width, height);
    BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    int[] packed = ((DataBufferInt) out.getRaster().getDataBuffer()).getData();
    for (int i = 0; i < packed.length; i++) {
      packed[i] = resized[3 * i] << 16 | resized[3 * i + 1] << 8 | resized[3 * i + 2];
    }
    return ImageFormat.JPEG.encode(out, quality);
  }
}
