package dev.tessera.curator.image;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Decodes an untrusted image (any format ImageIO has a reader for — with the TwelveMonkeys plugins
 * on the class path, WebP and CMYK JPEG too), reading its size from the header first so that a
 * decompression bomb is refused before a pixel is decoded.
 */
public final class BoundedDecoder {
  static {
    ImageIO.setUseCache(false);
  }

  private BoundedDecoder() {}

  /**
   * The outcome: the decoded image with its size and format name, or a problem and whatever size
   * the header gave.
   *
   * @param problem {@code "bad_image"} (no decoder accepts it) or {@code "oversized_image"}; {@code
   *     null} when decoded
   */
  public record Decoded(int width, int height, String format, BufferedImage image, String problem) {
    static Decoded failed(int width, int height, String problem) {
      return new Decoded(width, height, null, null, problem);
    }
  }

  /** Decodes {@code source}; never throws for bad input. */
  public static Decoded decode(InputStream source, long maxPixels) {
    try (ImageInputStream in = ImageIO.createImageInputStream(source)) {
      Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
      if (readers == null || !readers.hasNext()) {
        return Decoded.failed(0, 0, "bad_image");
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        int width = reader.getWidth(0);
        int height = reader.getHeight(0);
        if ((long) width * height > maxPixels) {
          return Decoded.failed(width, height, "oversized_image");
        }
        BufferedImage image = reader.read(0);
        return new Decoded(width, height, reader.getFormatName(), image, null);
      } finally {
        reader.dispose();
      }
    } catch (IOException | RuntimeException e) {
      return Decoded.failed(0, 0, "bad_image");
    }
  }
}
