package dev.tessera.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.model.clip.ClipModel;
import dev.tessera.model.siglip.SiglipModel;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A two-tower image–text model that rates how well a caption describes an image by the cosine of
 * their embeddings: a CLIP ({@link ClipModel}) or SigLIP ({@link SiglipModel}) checkpoint.
 */
public interface ImageTextModel {
  /**
   * Loads the Hugging Face directory's model by its {@code config.json} {@code model_type}: {@code
   * "clip"} or {@code "siglip"}.
   */
  static ImageTextModel load(Backend backend, Path directory) throws IOException {
    Path config = directory.resolve("config.json");
    if (!Files.isRegularFile(config)) {
      throw new IOException(directory + " has no config.json: not a Hugging Face model directory");
    }
    String modelType = new ObjectMapper().readTree(config.toFile()).path("model_type").asText("");
    return switch (modelType) {
      case "clip" -> ClipModel.load(backend, directory);
      case "siglip" -> SiglipModel.load(backend, directory);
      default ->
          throw new IOException(
              config
                  + ": model_type '"
                  + modelType
                  + "' is not an image-text model Tessera scores with (clip, siglip)");
    };
  }

  /** The images preprocessed as the checkpoint expects: [B, 3, S, S]. */
  Tensor pixels(Backend backend, List<BufferedImage> images);

  /** The most tokens a caption may have (the text tower's positions). */
  int maxTextTokens();

  /**
   * Whether every caption must be padded to {@link #maxTextTokens} (SigLIP pools the last
   * position); otherwise a batch is padded to its longest caption (CLIP pools end-of-text).
   */
  boolean padsToMaxLength();

  /** The image embeddings [B, width] of pixels [B, 3, S, S] from {@link #pixels}. */
  Tensor imageEmbeddings(Tensor pixels);

  /** The caption embeddings [batch, width] of {@code batch} captions of {@code tokens} ids each. */
  Tensor textEmbeddings(int[] ids, int batch, int tokens);

  /**
   * The cosine between image {@code b} and caption {@code b}, for every {@code b}.
   *
   * @param pixels [B, 3, S, S] from {@link #pixels}
   * @param ids B captions of {@code tokens} ids each
   */
  default double[] cosines(Tensor pixels, int[] ids, int tokens) {
    int batch = pixels.dim(0);
    Tensor images = imageEmbeddings(pixels);
    Tensor captions = textEmbeddings(ids, batch, tokens);
    Backend backend = images.backend();
    int width = images.dim(1);
    float[] image = backend.toHost(images);
    float[] caption = backend.toHost(captions);
    backend.release(images, captions);
    double[] out = new double[batch];
    for (int b = 0; b < batch; b++) {
      double dot = 0;
      double imageNorm = 0;
      double captionNorm = 0;
      for (int i = b * width; i < (b + 1) * width; i++) {
        dot += (double) image[i] * caption[i];
        imageNorm += (double) image[i] * image[i];
        captionNorm += (double) caption[i] * caption[i];
      }
      out[b] = dot / Math.max(Math.sqrt(imageNorm * captionNorm), 1e-12);
    }
    return out;
  }

  /**
   * The model's pairwise match probability for a cosine, or NaN where the model defines none (CLIP
   * only ranks captions against each other).
   */
  double probability(double cosine);
}
