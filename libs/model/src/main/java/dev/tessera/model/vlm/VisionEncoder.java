package dev.tessera.model.vlm;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.model.clip.ClipImageProcessor;
import dev.tessera.model.clip.ClipVisionTower;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.siglip.SiglipVisionTower;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * The image half of a vision-language model: images in, one feature row per patch out, for the
 * projector. Open-Qwen2VL reads a SigLIP tower's second-to-last layer from images resized square;
 * LLaVA-style models read a CLIP (or SigLIP) tower's configured layer, without CLIP's class token,
 * from images first padded to a square with the processor's mean colour ({@code image_aspect_ratio
 * "pad"}).
 */
public interface VisionEncoder {
  /**
   * @return [B, grid², hiddenSize] the patch features of each image, in row-major grid order
   */
  Tensor features(Backend backend, List<BufferedImage> images);

  /** Patches per side of the feature grid. */
  int grid();

  int hiddenSize();

  /**
   * A SigLIP tower's hidden state after {@code layers} encoder layers ({@code
   * hidden_states[layers]}, no post-layernorm), from images resized square by {@link
   * SiglipImageProcessor}; with {@code padToSquare}, padded to a square with the mean colour (127)
   * first.
   */
  static VisionEncoder siglip(SiglipVisionTower tower, int layers, boolean padToSquare) {
    SiglipImageProcessor processor = SiglipImageProcessor.forTower(tower.config());
    int[] background = padToSquare ? meanColour(new float[] {0.5f, 0.5f, 0.5f}) : null;
    return new VisionEncoder() {
      @Override
      public Tensor features(Backend backend, List<BufferedImage> images) {
        int size = tower.config().imageSize();
        float[] pixels = preprocess(images, 3 * size * size, background, processor::preprocess);
        return tower.hiddenState(backend.fromHost(pixels, images.size(), 3, size, size), layers);
      }

      @Override
      public int grid() {
        return tower.config().patchesPerSide();
      }

      @Override
      public int hiddenSize() {
        return tower.config().hiddenSize();
      }
    };
  }

  /**
   * A CLIP tower's patch features after {@code layers} encoder layers ({@code
   * hidden_states[layers][:, 1:]}: LLaVA's {@code mm_vision_select_feature "patch"} drops the class
   * token), from images preprocessed by {@code processor}; with {@code padToSquare}, padded to a
   * square with the processor's mean colour first, as LLaVA's {@code expand2square}.
   */
  static VisionEncoder clip(
      ClipVisionTower tower, ClipImageProcessor processor, int layers, boolean padToSquare) {
    int[] background = padToSquare ? meanColour(processor.mean()) : null;
    return new VisionEncoder() {
      @Override
      public Tensor features(Backend backend, List<BufferedImage> images) {
        int size = processor.crop();
        float[] pixels = preprocess(images, 3 * size * size, background, processor::preprocess);
        Tensor states =
            tower.hiddenState(backend.fromHost(pixels, images.size(), 3, size, size), layers);
        int patches = grid() * grid();
        int hidden = hiddenSize();
        Tensor out = backend.empty(images.size(), patches, hidden);
        for (int b = 0; b < images.size(); b++) {
          backend.copy(states.get(b).slice(hidden, patches, hidden), out.get(b));
        }
        backend.release(states);
        return out;
      }

      @Override
      public int grid() {
        return tower.config().vision().patchesPerSide();
      }

      @Override
      public int hiddenSize() {
        return tower.config().vision().hiddenSize();
      }
    };
  }

  /** A processor's pixel values of an RGB image ([H, W, 3] interleaved, 0..255). */
  interface Preprocessor {
    float[] preprocess(int[] rgb, int width, int height);
  }

  /** Every image converted to RGB, padded square when {@code background} is given, preprocessed. */
  private static float[] preprocess(
      List<BufferedImage> images, int per, int[] background, Preprocessor processor) {
    if (images.isEmpty()) {
      throw new IllegalArgumentException("no images");
    }
    float[] pixels = new float[images.size() * per];
    for (int i = 0; i < images.size(); i++) {
      BufferedImage image = images.get(i);
      int width = image.getWidth();
      int height = image.getHeight();
      int[] rgb = SiglipImageProcessor.rgb(image);
      if (background != null && width != height) {
        rgb = padToSquare(rgb, width, height, background);
        width = height = Math.max(width, height);
      }
      System.arraycopy(processor.preprocess(rgb, width, height), 0, pixels, i * per, per);
    }
    return pixels;
  }

  /** LLaVA's background: {@code tuple(int(x * 255) for x in image_mean)}. */
  private static int[] meanColour(float[] mean) {
    int[] colour = new int[3];
    for (int c = 0; c < 3; c++) {
      colour[c] = (int) (mean[c] * 255);
    }
    return colour;
  }

  /**
   * LLaVA's {@code expand2square}: the image pasted into a square of the longer side filled with
   * {@code background}, centred along the shorter side at offset {@code (long - short) // 2}.
   *
   * @param rgb [H, W, 3] interleaved
   * @return [S, S, 3] with S = max(W, H)
   */
  static int[] padToSquare(int[] rgb, int width, int height, int[] background) {
    int side = Math.max(width, height);
    int[] out = new int[side * side * 3];
    for (int i = 0; i < side * side; i++) {
      out[i * 3] = background[0];
      out[i * 3 + 1] = background[1];
      out[i * 3 + 2] = background[2];
    }
    int left = (side - width) / 2;
    int top = (side - height) / 2;
    for (int y = 0; y < height; y++) {
      System.arraycopy(rgb, y * width * 3, out, ((top + y) * side + left) * 3, width * 3);
    }
    return out;
  }
}
