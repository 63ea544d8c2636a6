package dev.tessera.curator.curate;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.model.ImageTextModel;
import dev.tessera.model.clip.ClipModel;
import dev.tessera.model.siglip.SiglipModel;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code clipScore} filter's scorer: a CLIP ({@link ClipModel}) or SigLIP ({@link SiglipModel})
 * checkpoint in Hugging Face layout rates how well a caption describes its image by the cosine of
 * their embeddings; SigLIP adds its match probability {@code sigmoid(cos * exp(scale) + bias)}.
 *
 * <p>Captions are tokenized by the checkpoint's {@code tokenizer.json} or SigLIP's {@code
 * spiece.model} ({@link CaptionTokenizer}) and truncated to {@code maxTokens} the way Hugging Face
 * truncates: the special tokens stay, so a long caption keeps its end-of-text token. SigLIP pools
 * the last position, so its captions are padded to {@code maxTokens} with the pad token (the
 * spec's, else the tokenizer's), as its processor pads ({@code padding="max_length"}); CLIP pools
 * the end-of-text position of a causal tower, so a batch is padded only to its longest caption,
 * with id 0 as OpenCLIP pads (or the spec's {@code padToken}) — padding after the end-of-text
 * cannot change a CLIP embedding.
 */
public final class ClipScorer implements AutoCloseable {
  /** A pair's score; {@code probability} is NaN for models that define none (CLIP). */
  public record Score(double cosine, double probability) {}

  private final Backend backend;
  private final ImageTextModel model;
  private final CaptionTokenizer tokenizer;
  private final int maxTokens;
  private final int padId;

  /**
   * @param tokenizer a {@code tokenizer.json} or {@code spiece.model}; null: the model directory's
   * @param maxTokens tokens per caption at most; 0: the text tower's {@code
   *     max_position_embeddings}
   * @param padToken the token that fills captions up, or null for the model's default (the
   *     tokenizer's pad token for SigLIP, id 0 for CLIP)
   */
  public ClipScorer(Backend backend, Path modelDir, Path tokenizer, int maxTokens, String padToken)
      throws IOException {
    this.backend = backend;
    this.model = ImageTextModel.load(backend, modelDir);
    int positions = model.maxTextTokens();
    if (maxTokens < 0 || maxTokens > positions) {
      throw new IllegalArgumentException(
          "clipScore.maxTokens " + maxTokens + " is outside 0.." + positions);
    }
    this.maxTokens = maxTokens == 0 ? positions : maxTokens;
    this.tokenizer = CaptionTokenizer.open(modelDir, tokenizer, this.maxTokens);
    String pad = padToken == null && model.padsToMaxLength() ? this.tokenizer.padToken() : padToken;
    if (pad == null) {
      this.padId = 0;
    } else {
      this.padId = this.tokenizer.id(pad);
      if (padId < 0) {
        this.tokenizer.close();
        throw new IllegalArgumentException(
            "clipScore.padToken '" + pad + "' is not one token of the tokenizer");
      }
    }
  }

  /** The model that scores. */
  public ImageTextModel model() {
    return model;
  }

  /** The ids of {@code caption}, special tokens added, at most {@code maxTokens}; not padded. */
  int[] captionIds(String caption) {
    return tokenizer.encode(caption);
  }

  /** Captions the text tower reads, row after row, and how many tokens each row has. */
  record Captions(int[] ids, int tokens) {}

  /** The captions tokenized and padded: to {@code maxTokens} for SigLIP, the longest for CLIP. */
  Captions captions(List<String> captions) {
    List<int[]> encoded = new ArrayList<>(captions.size());
    int longest = 1;
    for (String caption : captions) {
      int[] ids = captionIds(caption);
      encoded.add(ids);
      longest = Math.max(longest, ids.length);
    }
    int tokens = model.padsToMaxLength() ? maxTokens : longest;
    int[] ids = new int[captions.size() * tokens];
    Arrays.fill(ids, padId);
    for (int i = 0; i < encoded.size(); i++) {
      System.arraycopy(encoded.get(i), 0, ids, i * tokens, encoded.get(i).length);
    }
    return new Captions(ids, tokens);
  }

  /** Scores image {@code i} against caption {@code i}, all in one batch. */
  public List<Score> score(List<BufferedImage> pictures, List<String> captions) {
    if (pictures.size() != captions.size() || pictures.isEmpty()) {
      throw new IllegalArgumentException(
          pictures.size() + " images for " + captions.size() + " captions");
    }
    Captions text = captions(captions);
    Tensor pixels = model.pixels(backend, pictures);
    double[] cosines = model.cosines(pixels, text.ids(), text.tokens());
    backend.release(pixels);
    return Arrays.stream(cosines)
        .mapToObj(cosine -> new Score(cosine, model.probability(cosine)))
        .toList();
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
