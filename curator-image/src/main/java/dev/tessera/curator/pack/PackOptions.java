package dev.tessera.curator.pack;

import dev.tessera.data.packing.PackingAlgorithm;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Everything a pack run needs.
 *
 * @param inputs input shards, in order (their order fixes sample numbering and tie-breaking)
 * @param repeats how many times each input shard's samples are packed, one entry per shard: 1 once,
 *     2 twice, 0.5 a fixed half of them, 1.5 all once and a fixed half of them again (see {@link
 *     Repeats})
 * @param out output directory
 * @param tokenizer the Qwen2-family {@code tokenizer.json}
 * @param sequenceLength tokens per packed sequence
 * @param imageTokens visual tokens per image
 * @param imageSize side of the square images written (the vision tower's input size), or 0 to keep
 *     the source images as they are
 * @param jpegQuality quality of re-encoded images, 1..100
 * @param maxImagePixels larger images are refused before they are decoded
 * @param algorithm first-fit or best-fit decreasing
 * @param overlong what to do with samples longer than a sequence
 * @param sequencesPerShard sequences per output shard
 * @param workers threads for tokenising, image re-encoding and shard writing
 * @param resume continue an interrupted run in {@code out}
 * @param keepWork keep the intermediate files under {@code out/.work} after success
 */
public record PackOptions(
    List<Path> inputs,
    List<Double> repeats,
    Path out,
    Path tokenizer,
    int sequenceLength,
    int imageTokens,
    int imageSize,
    int jpegQuality,
    long maxImagePixels,
    PackingAlgorithm algorithm,
    Overlong overlong,
    int sequencesPerShard,
    int workers,
    boolean resume,
    boolean keepWork) {

  public static final int DEFAULT_SEQUENCE_LENGTH = 4096;
  public static final int DEFAULT_IMAGE_TOKENS = 144;
  public static final int DEFAULT_IMAGE_SIZE = 384;
  public static final int DEFAULT_JPEG_QUALITY = 95;

  /** Pillow's decompression-bomb limit. */
  public static final long DEFAULT_MAX_IMAGE_PIXELS = 89_478_485L;

  public static final int DEFAULT_SEQUENCES_PER_SHARD = 500;

  /** The largest {@code --repeat}: each round of repeats packs the whole input again. */
  public static final double MAX_REPEAT = 100;

  /** What happens to a sample whose multimodal length exceeds the sequence length. */
  public enum Overlong {
    /** Cut the caption's tokens so the sample fills one sequence, keeping its final EOS. */
    TRUNCATE,
    /** Drop the sample (counted as {@code too_long}). */
    DROP
  }

  /**
   * The fewest tokens a sample can have: {@code <s>}, the image, {@code \n}, {@code <|im_end|>}.
   */
  static int minimumLength(int imageTokens) {
    return imageTokens + 3;
  }

  public PackOptions {
    Objects.requireNonNull(out, "out");
    Objects.requireNonNull(tokenizer, "tokenizer");
    Objects.requireNonNull(algorithm, "algorithm");
    Objects.requireNonNull(overlong, "overlong");
    inputs = List.copyOf(inputs);
    if (inputs.isEmpty()) {
      throw new IllegalArgumentException("no input shards");
    }
    repeats = List.copyOf(repeats);
    if (repeats.size() != inputs.size()) {
      throw new IllegalArgumentException(
          repeats.size() + " repeats for " + inputs.size() + " input shards");
    }
    for (int i = 0; i < repeats.size(); i++) {
      double repeat = repeats.get(i);
      if (!(repeat > 0 && repeat <= MAX_REPEAT)) {
        throw new IllegalArgumentException(
            "--repeat must be more than 0 and at most "
                + (int) MAX_REPEAT
                + ", got "
                + repeat
                + " for "
                + inputs.get(i));
      }
    }
    if (imageTokens < 1) {
      throw new IllegalArgumentException("--image-tokens must be >= 1, got " + imageTokens);
    }
    if (sequenceLength < minimumLength(imageTokens)) {
      throw new IllegalArgumentException(
          "--seq-len "
              + sequenceLength
              + " cannot hold one sample of "
              + imageTokens
              + " image tokens (at least "
              + minimumLength(imageTokens)
              + ")");
    }
    if (imageSize < 0 || imageSize > 8192) {
      throw new IllegalArgumentException("--image-size must be in 0..8192, got " + imageSize);
    }
    if (jpegQuality < 1 || jpegQuality > 100) {
      throw new IllegalArgumentException("--jpeg-quality must be in 1..100, got " + jpegQuality);
    }
    if (maxImagePixels < 1) {
      throw new IllegalArgumentException("--max-image-pixels must be >= 1");
    }
    if (sequencesPerShard < 1) {
      throw new IllegalArgumentException(
          "--sequences-per-shard must be >= 1, got " + sequencesPerShard);
    }
    if (workers < 1) {
      throw new IllegalArgumentException("--workers must be >= 1, got " + workers);
    }
  }
}
