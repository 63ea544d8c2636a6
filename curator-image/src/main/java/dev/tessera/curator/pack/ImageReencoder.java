package dev.tessera.curator.pack;

import dev.tessera.curator.image.BoundedDecoder;
import dev.tessera.curator.image.JpegResize;
import dev.tessera.data.webdataset.Sample;
import java.io.IOException;
import java.io.InputStream;

/**
 * Turns a sample's image into what the vision tower will read: decoded (refusing undecodable,
 * degenerate and oversized images before they cost memory), resized to S×S with Pillow's bicubic
 * filter — the resize the SigLIP processor does at training time, done once here — and encoded as
 * JPEG. With size 0 the source bytes are kept and only checked.
 */
public final class ImageReencoder {
  /** The image to store, or why the sample has none. */
  public record Result(String extension, byte[] bytes, String dropReason) {
    static Result drop(String reason) {
      return new Result(null, null, reason);
    }
  }

  private final int size;
  private final float quality;
  private final long maxPixels;

  public ImageReencoder(int size, int qualityPercent, long maxPixels) {
    this.size = size;
    this.quality = qualityPercent / 100f;
    this.maxPixels = maxPixels;
  }

  /** The sample's image as it will be stored; the sample must have an image member. */
  public Result process(Sample sample) {
    String extension = sample.imageExtension().orElseThrow();
    BoundedDecoder.Decoded decoded;
    try (InputStream source = sample.openImage().orElseThrow()) {
      decoded = BoundedDecoder.decode(source, maxPixels);
    } catch (IOException e) {
      return Result.drop("bad_image");
    }
    if (decoded.problem() != null) {
      return Result.drop(decoded.problem());
    }
    int width = decoded.width();
    int height = decoded.height();
    // Open-Qwen2VL drops images with a side of 1 pixel.
    if (width < 2 || height < 2) {
      return Result.drop("degenerate_image");
    }
    boolean isJpeg = "jpeg".equalsIgnoreCase(decoded.format());
    if (size == 0 || (isJpeg && width == size && height == size)) {
      // Already what the tower reads (or asked to keep), and known to decode.
      return new Result(extension, sample.image().orElseThrow(), null);
    }
    return new Result("jpg", JpegResize.resize(decoded.image(), size, size, quality), null);
  }
}
