package dev.tessera.model.siglip;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.model.config.SiglipVisionConfig;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.PixelInterleavedSampleModel;
import java.awt.image.Raster;
import java.util.Arrays;
import java.util.List;

/**
 * Image preprocessing for the SigLIP tower, as Hugging Face's {@code SiglipImageProcessor} and
 * Open-Qwen2VL's "resize-naive" transform do it: convert to RGB, resize to exactly S x S (the
 * aspect ratio is not kept) with Pillow's {@code Image.resize(..., BICUBIC)}, rescale by 1/255 and
 * normalise with mean = std = 0.5, giving values in [-1, 1] laid out [3, S, S].
 *
 * <p>The resize reproduces Pillow's 8-bit resampler (Pillow 7 to 10, {@code Resample.c}): a
 * separable convolution, horizontal pass then vertical, each rounding to 8 bits, with the bicubic
 * kernel (a = -0.5) whose support is scaled by the downscale factor — so shrinking is antialiased,
 * unlike {@code java.awt}'s bicubic interpolation, which samples 4 x 4 source pixels whatever the
 * scale — and the kernel weights in 22-bit fixed point as Pillow rounds them. An image already S x
 * S is not resampled.
 *
 * <p>RGB conversion follows Pillow's {@code convert("RGB")}: alpha is dropped (not composited),
 * grayscale is replicated into the three channels, palette images are looked up. 8-bit gray rasters
 * are read directly, not through {@link BufferedImage#getRGB}, which would apply Java's linear-gray
 * to sRGB conversion; deeper rasters are read through {@code getRGB} (8 bits per channel).
 */
public final class SiglipImageProcessor {
  /** Mean and standard deviation of every channel ({@code image_mean}, {@code image_std}). */
  public static final float MEAN = 0.5f;

  public static final float STD = 0.5f;

  /** Fixed-point precision of Pillow's 8-bit resampling weights. */
  private static final int PRECISION_BITS = 32 - 8 - 2;

  private final int size;

  /** A processor resizing to {@code size} x {@code size}. */
  public SiglipImageProcessor(int size) {
    if (size <= 0) {
      throw new IllegalArgumentException("size must be positive, got " + size);
    }
    this.size = size;
  }

  /** The processor for a tower's image size; the tower must take 3 channels. */
  public static SiglipImageProcessor forTower(SiglipVisionConfig config) {
    if (config.numChannels() != 3) {
      throw new IllegalArgumentException(
          "the tower takes " + config.numChannels() + " channels; images are RGB (3)");
    }
    return new SiglipImageProcessor(config.imageSize());
  }

  public int size() {
    return size;
  }

  /** Pixel values [3, S, S]: {@code (rgb / 255 - 0.5) / 0.5} of the resized image. */
  public float[] preprocess(BufferedImage image) {
    return preprocess(rgb(image), image.getWidth(), image.getHeight());
  }

  /**
   * {@link #preprocess(BufferedImage)} of an image already converted to RGB: 0..255 values, [H, W,
   * 3] interleaved.
   */
  public float[] preprocess(int[] image, int width, int height) {
    int[] rgb = resizeBicubic(image, width, height, size, size);
    int plane = size * size;
    float[] out = new float[3 * plane];
    for (int i = 0; i < plane; i++) {
      for (int c = 0; c < 3; c++) {
        float rescaled = (float) (rgb[i * 3 + c] * (1.0 / 255));
        out[c * plane + i] = (rescaled - MEAN) / STD;
      }
    }
    return out;
  }

  /** A batch of pixel values [B, 3, S, S] for {@link SiglipVisionTower}. */
  public Tensor batch(Backend backend, List<BufferedImage> images) {
    if (images.isEmpty()) {
      throw new IllegalArgumentException("no images");
    }
    int per = 3 * size * size;
    float[] values = new float[images.size() * per];
    for (int i = 0; i < images.size(); i++) {
      System.arraycopy(preprocess(images.get(i)), 0, values, i * per, per);
    }
    return backend.fromHost(values, images.size(), 3, size, size);
  }

  /** The image converted to RGB and resized to S x S: 0..255 values, [S, S, 3] interleaved. */
  public int[] resizedRgb(BufferedImage image) {
    int width = image.getWidth();
    int height = image.getHeight();
    return resizeBicubic(rgb(image), width, height, size, size);
  }

  /** Pillow's {@code convert("RGB")}: 0..255 values, [H, W, 3] interleaved. */
  public static int[] rgb(BufferedImage image) {
    int width = image.getWidth();
    int height = image.getHeight();
    int[] out = new int[width * height * 3];
    Raster raster = image.getRaster();
    boolean gray8 =
        image.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY
            && raster.getSampleModel().getSampleSize(0) == 8;
    if (gray8) {
      int[] row = new int[width];
      for (int y = 0; y < height; y++) {
        raster.getSamples(0, y, width, 1, 0, row);
        for (int x = 0; x < width; x++) {
          int i = (y * width + x) * 3;
          out[i] = out[i + 1] = out[i + 2] = row[x];
        }
      }
      return out;
    }
    if (image.getType() == BufferedImage.TYPE_3BYTE_BGR
        && raster.getDataBuffer() instanceof DataBufferByte buffer
        && buffer.getNumBanks() == 1
        && raster.getSampleModel() instanceof PixelInterleavedSampleModel model
        && model.getPixelStride() == 3
        && model.getScanlineStride() == width * 3
        && raster.getSampleModelTranslateX() == 0
        && raster.getSampleModelTranslateY() == 0) {
      // What JPEG decoding gives: bytes in B, G, R order, no colour model to go through.
      byte[] bgr = buffer.getData();
      for (int i = 0; i < out.length; i += 3) {
        out[i] = bgr[i + 2] & 0xff;
        out[i + 1] = bgr[i + 1] & 0xff;
        out[i + 2] = bgr[i] & 0xff;
      }
      return out;
    }
    int[] row = new int[width];
    for (int y = 0; y < height; y++) {
      image.getRGB(0, y, width, 1, row, 0, width);
      for (int x = 0; x < width; x++) {
        int i = (y * width + x) * 3;
        int argb = row[x];
        out[i] = (argb >>> 16) & 0xff;
        out[i + 1] = (argb >>> 8) & 0xff;
        out[i + 2] = argb & 0xff;
      }
    }
    return out;
  }

  /**
   * Pillow's 8-bit bicubic resize ({@code Image.resize((outWidth, outHeight), BICUBIC)}) of an
   * interleaved RGB image: horizontal pass, then vertical, each skipped when that side keeps its
   * size.
   *
   * @param rgb [height, width, 3] values 0..255
   * @return [outHeight, outWidth, 3] values 0..255
   */
  public static int[] resizeBicubic(int[] rgb, int width, int height, int outWidth, int outHeight) {
    if (width <= 0 || height <= 0 || outWidth <= 0 || outHeight <= 0) {
      throw new IllegalArgumentException(
          "sizes must be positive: " + width + "x" + height + " -> " + outWidth + "x" + outHeight);
    }
    if (rgb.length != width * height * 3) {
      throw new IllegalArgumentException(
          "rgb has " + rgb.length + " values, expected " + width + "*" + height + "*3");
    }
    int[] current = rgb;
    if (outWidth != width) {
      Kernel kernel = Kernel.of(width, outWidth);
      int[] out = new int[outWidth * height * 3];
      for (int y = 0; y < height; y++) {
        for (int x = 0; x < outWidth; x++) {
          int base = x * kernel.size;
          int source = (y * width + kernel.first[x]) * 3;
          int red = 1 << (PRECISION_BITS - 1);
          int green = red;
          int blue = red;
          for (int i = 0; i < kernel.count[x]; i++, source += 3) {
            int weight = kernel.weights[base + i];
            red += current[source] * weight;
            green += current[source + 1] * weight;
            blue += current[source + 2] * weight;
          }
          int target = (y * outWidth + x) * 3;
          out[target] = clip8(red);
          out[target + 1] = clip8(green);
          out[target + 2] = clip8(blue);
        }
      }
      current = out;
    }
    if (outHeight != height) {
      Kernel kernel = Kernel.of(height, outHeight);
      int[] out = new int[outWidth * outHeight * 3];
      // Row by row: each tap adds a whole source row to the accumulators, so memory is read in
      // order (integer sums are exact, so the order does not change the result).
      int rowLength = outWidth * 3;
      int[] sums = new int[rowLength];
      for (int y = 0; y < outHeight; y++) {
        int base = y * kernel.size;
        Arrays.fill(sums, 1 << (PRECISION_BITS - 1));
        for (int i = 0; i < kernel.count[y]; i++) {
          int weight = kernel.weights[base + i];
          int source = (kernel.first[y] + i) * rowLength;
          for (int j = 0; j < rowLength; j++) {
            sums[j] += current[source + j] * weight;
          }
        }
        int target = y * rowLength;
        for (int j = 0; j < rowLength; j++) {
          out[target + j] = clip8(sums[j]);
        }
      }
      current = out;
    }
    return current == rgb ? rgb.clone() : current;
  }

  private static int clip8(int value) {
    if (value >= (1 << PRECISION_BITS << 8)) {
      return 255;
    }
    if (value <= 0) {
      return 0;
    }
    return value >> PRECISION_BITS;
  }

  /** Pillow's bicubic kernel (a = -0.5). */
  static double bicubic(double x) {
    double a = -0.5;
    x = Math.abs(x);
    if (x < 1.0) {
      return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    }
    if (x < 2.0) {
      return (((x - 5) * x + 8) * x - 4) * a;
    }
    return 0.0;
  }

  /**
   * Per output pixel, the first source pixel, the number of source pixels and their fixed-point
   * weights ({@code size} slots each): Pillow's {@code precompute_coeffs} and {@code
   * normalize_coeffs_8bpc}.
   */
  private record Kernel(int size, int[] first, int[] count, int[] weights) {
    static Kernel of(int inSize, int outSize) {
      double scale = (double) inSize / outSize;
      double filterScale = Math.max(1.0, scale);
      double support = 2.0 * filterScale;
      int size = (int) Math.ceil(support) * 2 + 1;
      int[] first = new int[outSize];
      int[] count = new int[outSize];
      int[] weights = new int[outSize * size];
      double[] w = new double[size];
      double ss = 1.0 / filterScale;
      for (int xx = 0; xx < outSize; xx++) {
        double center = (xx + 0.5) * scale;
        int xmin = Math.max(0, (int) (center - support + 0.5));
        int xmax = Math.min(inSize, (int) (center + support + 0.5)) - xmin;
        double total = 0;
        for (int x = 0; x < xmax; x++) {
          w[x] = bicubic((x + xmin - center + 0.5) * ss);
          total += w[x];
        }
        for (int x = 0; x < xmax; x++) {
          double normalised = total != 0 ? w[x] / total : w[x];
          weights[xx * size + x] =
              normalised < 0
                  ? (int) (-0.5 + normalised * (1 << PRECISION_BITS))
                  : (int) (0.5 + normalised * (1 << PRECISION_BITS));
        }
        first[xx] = xmin;
        count[xx] = Math.max(0, xmax);
      }
      return new Kernel(size, first, count, weights);
    }
  }
}
