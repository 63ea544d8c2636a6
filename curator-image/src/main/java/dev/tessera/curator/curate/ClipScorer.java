package dev.tessera.curator.curate;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.siglip.SiglipModel;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code clipScore} filter's scorer: a SigLIP checkpoint in Hugging Face layout ({@link
 * SiglipModel}: both towers) rates how well a caption describes its image by the cosine of their
 * embeddings, and SigLIP's match probability {@code sigmoid(cos * exp(scale) + bias)}.
 *
 * <p>Captions are tokenized by the checkpoint's {@code tokenizer.json} (the Rust tokenizers
 * library, special tokens added as the tokenizer's post-processor says), cut to {@code maxTokens}
 * and padded with {@code padToken} to that length, as SigLIP's processor pads ({@code
 * padding="max_length"}): the text tower pools the last position.
 */
public final class ClipScorer implements AutoCloseable {
  /** A pair's score. */
  public record Score(double cosine, double probability) {}

  private final Backend backend;
  private final SiglipModel model;
  private final SiglipImageProcessor images;
  private final HuggingFaceTokenizer tokenizer;
  private final int maxTokens;
  private final int padId;

  /**
   * @param maxTokens tokens per caption; 0: the text tower's {@code max_position_embeddings}
   * @param padToken the token that fills captions up to {@code maxTokens}
   */
  public ClipScorer(
      Backend backend, Path modelDir, Path tokenizerJson, int maxTokens, String padToken)
      throws IOException {
    this.backend = backend;
    this.model = SiglipModel.load(backend, modelDir);
    int positions = model.text().config().maxPositionEmbeddings();
    if (maxTokens < 0 || maxTokens > positions) {
      throw new IllegalArgumentException(
          "clipScore.maxTokens " + maxTokens + " is outside 0.." + positions);
    }
    this.maxTokens = maxTokens == 0 ? positions : maxTokens;
    this.images = SiglipImageProcessor.forTower(model.vision().config());
    this.tokenizer = open(tokenizerJson);
    long[] pad = tokenizer.encode(padToken, false, false).getIds();
    if (pad.length != 1) {
      throw new IllegalArgumentException(
          "clipScore.padToken '" + padToken + "' is not one token of " + tokenizerJson);
    }
    this.padId = Math.toIntExact(pad[0]);
  }

  private static HuggingFaceTokenizer open(Path tokenizerJson) throws IOException {
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new IOException("clipScore.tokenizer: no file " + tokenizerJson);
    }
    // The library must not reach for the network, and needs a writable place for its natives.
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    if (System.getProperty("DJL_CACHE_DIR") == null && System.getenv("DJL_CACHE_DIR") == null) {
      System.setProperty(
          "DJL_CACHE_DIR", Path.of(System.getProperty("java.io.tmpdir"), "tessera-djl").toString());
    }
    Map<String, String> options = new HashMap<>();
    options.put("addSpecialTokens", "true");
    options.put("truncation", "false");
    options.put("padding", "false");
    options.put("maxLength", String.valueOf(1 << 16));
    return HuggingFaceTokenizer.newInstance(tokenizerJson, options);
  }

  /** The ids the text tower reads for {@code caption}: cut or padded to {@code maxTokens}. */
  int[] captionIds(String caption) {
    Encoding encoding = tokenizer.encode(caption);
    long[] ids = encoding.getIds();
    int[] out = new int[maxTokens];
    for (int i = 0; i < maxTokens; i++) {
      out[i] = i < ids.length ? Math.toIntExact(ids[i]) : padId;
    }
    return out;
  }

  /** Scores image {@code i} against caption {@code i}, all in one batch. */
  public List<Score> score(List<BufferedImage> pictures, List<String> captions) {
    if (pictures.size() != captions.size() || pictures.isEmpty()) {
      throw new IllegalArgumentException(
          pictures.size() + " images for " + captions.size() + " captions");
    }
    int[] ids = new int[captions.size() * maxTokens];
    for (int i = 0; i < captions.size(); i++) {
      System.arraycopy(captionIds(captions.get(i)), 0, ids, i * maxTokens, maxTokens);
    }
    Tensor pixels = images.batch(backend, pictures);
    double[] cosines = model.cosines(pixels, ids, maxTokens);
    backend.release(pixels);
    return java.util.Arrays.stream(cosines)
        .mapToObj(cosine -> new Score(cosine, model.probability(cosine)))
        .toList();
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
