package dev.tessera.curator.curate;

import dev.tessera.curator.image.BoundedDecoder;
import dev.tessera.curator.image.JpegResize;
import dev.tessera.data.webdataset.Sample;
import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Resizes a sample's image so that its shorter side is at most a bound, keeping the aspect ratio,
 * as img2dataset's {@code resize_mode=keep_ratio, resize_only_if_bigger} does for the reference's
 * downloads (shorter side 512). Bicubic with antialiasing (Pillow's filter), stored as JPEG;
 * smaller images and images that do not decode are kept as they are.
 */
final class ShorterSideResizer {
  private final int shorterSide;
  private final float quality;
  private final long maxPixels;

  ShorterSideResizer(int shorterSide, int qualityPercent, long maxPixels) {
    this.shorterSide = shorterSide;
    this.quality = qualityPercent / 100f;
    this.maxPixels = maxPixels;
  }

  /** The sample with its image resized, or the sample itself when nothing needs doing. */
  Sample apply(Sample sample) {
    String extension = sample.imageExtension().orElse(null);
    if (extension == null) {
      return sample;
    }
    BoundedDecoder.Decoded decoded;
    try (InputStream source = sample.openImage().orElseThrow()) {
      decoded = BoundedDecoder.decode(source, maxPixels);
    } catch (IOException e) {
      return sample;
    }
    int width = decoded.width();
    int height = decoded.height();
    if (decoded.problem() != null || Math.min(width, height) <= shorterSide) {
      return sample;
    }
    double scale = (double) shorterSide / Math.min(width, height);
    int outWidth = Math.max(1, (int) Math.round(width * scale));
    int outHeight = Math.max(1, (int) Math.round(height * scale));
    if (width <= height) {
      outWidth = shorterSide;
    } else {
      outHeight = shorterSide;
    }
    Map<String, byte[]> members = new LinkedHashMap<>(sample.members());
    members.remove(extension);
    members.put("jpg", JpegResize.resize(decoded.image(), outWidth, outHeight, quality));
    return Sample.of(sample.key(), members);
  }
}
