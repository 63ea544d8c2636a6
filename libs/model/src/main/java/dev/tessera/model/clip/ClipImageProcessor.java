package dev.tessera.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.model.siglip.SiglipImageProcessor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Image preprocessing for CLIP towers, as Hugging Face's {@code CLIPImageProcessor} does it:
 * convert to RGB, resize so the shorter side is {@code shortestEdge} (the longer side {@code
 * int(edge * long / short)}) with Pillow's bicubic filter, crop {@code crop x crop} from the
 * centre, rescale by 1/255 and normalise per channel with OpenAI's mean and standard deviation (or
 * the checkpoint's), giving [3, crop, crop].
 *
 * <p>The resize and RGB conversion are {@link SiglipImageProcessor}'s (Pillow's 8-bit resampler).
 * The crop follows {@code transformers.image_transforms.center_crop}: offsets {@code (side - crop)
 * // 2}, and an image smaller than the crop is padded with black around it first.
 */
public final class ClipImageProcessor {
  /** OpenAI CLIP's per-channel statistics ({@code OPENAI_CLIP_MEAN}, {@code OPENAI_CLIP_STD}). */
  public static final float[] OPENAI_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};

  public static final float[] OPENAI_STD = {0.26862954f, 0.26130258f, 0.27577711f};

  private final int shortestEdge;
  private final int crop;
  private final float[] mean;
  private final float[] std;

  /**
   * @param shortestEdge the shorter side after resizing
   * @param crop the side of the centre crop, the tower's image size
   */
  public ClipImageProcessor(int shortestEdge, int crop, float[] mean, float[] std) {
    if (shortestEdge <= 0 || crop <= 0) {
      throw new IllegalArgumentException(
          "shortest edge and crop must be positive, got " + shortestEdge + " and " + crop);
    }
    if (mean.length != 3 || std.length != 3) {
      throw new IllegalArgumentException("image_mean and image_std need 3 values (RGB)");
    }
    for (float s : std) {
      if (!(s > 0)) {
        throw new IllegalArgumentException("image_std values must be positive");
      }
    }
    this.shortestEdge = shortestEdge;
    this.crop = crop;
    this.mean = mean.clone();
    this.std = std.clone();
  }

  /** OpenAI's preprocessing for a tower of {@code imageSize}: resize and crop to it. */
  public static ClipImageProcessor openai(int imageSize) {
    return new ClipImageProcessor(imageSize, imageSize, OPENAI_MEAN, OPENAI_STD);
  }

  /**
   * The checkpoint's {@code preprocessor_config.json} when the directory has one, OpenAI's
   * preprocessing otherwise; the crop must equal the tower's {@code imageSize}.
   */
  public static ClipImageProcessor forModel(Path directory, int imageSize) throws IOException {
    Path file = directory.resolve("preprocessor_config.json");
    if (!Files.isRegularFile(file)) {
      return openai(imageSize);
    }
    JsonNode root = new ObjectMapper().readTree(file.toFile());
    try {
      int resample = root.path("resample").asInt(3);
      if (resample != 3) {
        throw new IllegalArgumentException("resample " + resample + " is not bicubic (3)");
      }
      if (!root.path("do_resize").asBoolean(true)
          || !root.path("do_center_crop").asBoolean(true)
          || !root.path("do_rescale").asBoolean(true)
          || !root.path("do_normalize").asBoolean(true)) {
        throw new IllegalArgumentException(
            "only resize, centre crop, rescale and normalise all enabled are supported");
      }
      double factor = root.path("rescale_factor").asDouble(1 / 255.0);
      if (Math.abs(factor - 1 / 255.0) > 1e-9) {
        throw new IllegalArgumentException("rescale_factor " + factor + " is not 1/255");
      }
      int edge = side(root.get("size"), "shortest_edge", imageSize, "size");
      int cropSide = side(root.get("crop_size"), "height", imageSize, "crop_size");
      if (cropSide != imageSize) {
        throw new IllegalArgumentException(
            "crop_size " + cropSide + " differs from the tower's image_size " + imageSize);
      }
      return new ClipImageProcessor(
          edge,
          cropSide,
          floats(root.get("image_mean"), OPENAI_MEAN, "image_mean"),
          floats(root.get("image_std"), OPENAI_STD, "image_std"));
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": " + e.getMessage(), e);
    }
  }

  /** An int, or an object with {@code field} (crops must be square: height = width). */
  private static int side(JsonNode node, String field, int fallback, String name) {
    if (node == null || node.isNull()) {
      return fallback;
    }
    if (node.isInt()) {
      return node.asInt();
    }
    if (node.isObject() && node.has(field)) {
      if (node.has("width") && node.get("width").asInt() != node.get(field).asInt()) {
        throw new IllegalArgumentException(name + " must be square, got " + node);
      }
      return node.get(field).asInt();
    }
    throw new IllegalArgumentException(name + " must be an int or have " + field + ", got " + node);
  }

  private static float[] floats(JsonNode node, float[] fallback, String name) {
    if (node == null || node.isNull()) {
      return fallback;
    }
    if (!node.isArray() || node.size() != 3) {
      throw new IllegalArgumentException(name + " must be 3 numbers, got " + node);
    }
    float[] out = new float[3];
    for (int i = 0; i < 3; i++) {
      out[i] = (float) node.get(i).asDouble();
    }
    return out;
  }

  /** This processor as Hugging Face writes a {@code CLIPImageProcessor}'s configuration. */
  public Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("image_processor_type", "CLIPImageProcessor");
    json.put("do_resize", true);
    json.put("size", Map.of("shortest_edge", shortestEdge));
    json.put("resample", 3);
    json.put("do_center_crop", true);
    json.put("crop_size", Map.of("height", crop, "width", crop));
    json.put("do_rescale", true);
    json.put("rescale_factor", 1 / 255.0);
    json.put("do_normalize", true);
    json.put("image_mean", mean);
    json.put("image_std", std);
    json.put("do_convert_rgb", true);
    return json;
  }

  public int shortestEdge() {
    return shortestEdge;
  }

  public int crop() {
    return crop;
  }

  /**
   * {@code get_resize_output_image_size(..., default_to_square=False)}: {@code [width, height]}
   * with the shorter side {@code shortestEdge} and the longer {@code int(edge * long / short)}.
   */
  public int[] resizedSize(int width, int height) {
    int shortSide = Math.min(width, height);
    int longSide = Math.max(width, height);
    int newLong = (int) ((double) shortestEdge * longSide / shortSide);
    return width <= height ? new int[] {shortestEdge, newLong} : new int[] {newLong, shortestEdge};
  }

  /**
   * {@code center_crop}: the crop starts at {@code floorDiv(side - crop, 2)} on each axis. A side
   * shorter than the crop starts before the image (that offset is negative), and what lies outside
   * it is black, as Hugging Face's zero padding of {@code ceil((crop - side) / 2)} places it.
   */
  static int[] centerCrop(int[] rgb, int width, int height, int crop) {
    int top = Math.floorDiv(height - crop, 2);
    int left = Math.floorDiv(width - crop, 2);
    int[] out = new int[crop * crop * 3];
    for (int y = 0; y < crop; y++) {
      int sy = top + y;
      if (sy < 0 || sy >= height) {
        continue;
      }
      for (int x = 0; x < crop; x++) {
        int sx = left + x;
        if (sx >= 0 && sx < width) {
          System.arraycopy(rgb, (sy * width + sx) * 3, out, (y * crop + x) * 3, 3);
        }
      }
    }
    return out;
  }

  /** The per-channel means (RGB) pixels are normalised with. */
  public float[] mean() {
    return mean.clone();
  }

  /** Pixel values [3, crop, crop]: {@code (rgb / 255 - mean[c]) / std[c]}. */
  public float[] preprocess(BufferedImage image) {
    return preprocess(SiglipImageProcessor.rgb(image), image.getWidth(), image.getHeight());
  }

  /**
   * {@link #preprocess(BufferedImage)} of an image already converted to RGB: 0..255 values, [H, W,
   * 3] interleaved.
   */
  public float[] preprocess(int[] image, int width, int height) {
    int[] size = resizedSize(width, height);
    int[] rgb =
        centerCrop(
            SiglipImageProcessor.resizeBicubic(image, width, height, size[0], size[1]),
            size[0],
            size[1],
            crop);
    int plane = crop * crop;
    float[] out = new float[3 * plane];
    for (int i = 0; i < plane; i++) {
      for (int c = 0; c < 3; c++) {
        float rescaled = (float) (rgb[i * 3 + c] * (1.0 / 255));
        out[c * plane + i] = (rescaled - mean[c]) / std[c];
      }
    }
    return out;
  }

  /** A batch of pixel values [B, 3, crop, crop]. */
  public Tensor batch(Backend backend, List<BufferedImage> images) {
    if (images.isEmpty()) {
      throw new IllegalArgumentException("no images");
    }
    int per = 3 * crop * crop;
    float[] values = new float[images.size() * per];
    for (int i = 0; i < images.size(); i++) {
      System.arraycopy(preprocess(images.get(i)), 0, values, i * per, per);
    }
    return backend.fromHost(values, images.size(), 3, crop, crop);
  }
}
