package dev.tessera.model.encoder;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import java.util.Arrays;

/**
 * A ViT's patch embedding input: the stride-p convolution {@code Conv2d(C, hidden, p, stride=p)}
 * computed as a matmul of the flattened patches with the weight viewed {@code [hidden, C*p*p]}.
 */
public final class Patches {
  private Patches() {}

  /**
   * Checks pixels are [B, C, S, S] for the given C and S; returns B.
   *
   * @throws IllegalArgumentException naming the shape received and the one expected
   */
  public static int requirePixels(Tensor pixels, int channels, int imageSize) {
    if (pixels.rank() != 4
        || pixels.dim(1) != channels
        || pixels.dim(2) != imageSize
        || pixels.dim(3) != imageSize
        || pixels.dim(0) == 0) {
      throw new IllegalArgumentException(
          "pixels have shape "
              + Arrays.toString(pixels.shape())
              + ", expected [B, "
              + channels
              + ", "
              + imageSize
              + ", "
              + imageSize
              + "] with B >= 1");
    }
    return pixels.dim(0);
  }

  /**
   * The non-overlapping p x p patches of each image in row-major grid order, each flattened as (C,
   * p, p) like the convolution weight: [B * (S/p)^2, C*p*p]. A remainder beyond the last full patch
   * (image size not a multiple of p) is dropped, as by the stride-p convolution.
   *
   * @param pixels [B, C, S, S]
   */
  public static Tensor extract(Backend backend, Tensor pixels, int channels, int imageSize, int p) {
    int batch = requirePixels(pixels, channels, imageSize);
    int c = channels;
    int s = imageSize;
    int side = s / p;
    int width = c * p * p;
    float[] in = backend.toHost(pixels);
    float[] out = new float[batch * side * side * width];
    for (int b = 0; b < batch; b++) {
      for (int py = 0; py < side; py++) {
        for (int px = 0; px < side; px++) {
          int o = ((b * side + py) * side + px) * width;
          for (int ch = 0; ch < c; ch++) {
            for (int ky = 0; ky < p; ky++) {
              int from = ((b * c + ch) * s + py * p + ky) * s + px * p;
              System.arraycopy(in, from, out, o, p);
              o += p;
            }
          }
        }
      }
    }
    return backend.fromHost(out, batch * side * side, width);
  }
}
