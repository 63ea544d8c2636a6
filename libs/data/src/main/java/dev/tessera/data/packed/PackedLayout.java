package dev.tessera.data.packed;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a reader of packed shards must know about their token layout; stored in the manifest's
 * {@code layout} so a packed set describes itself.
 *
 * @param sequenceLength tokens per sequence; shorter sequences are padded to it
 * @param imageTokens visual tokens per image (the projector's k×k); each image occupies this many
 *     consecutive positions holding {@link #imageTokenId}
 * @param imageTokenId the id at visual positions ({@value #IMAGE_TOKEN_ID}, LLaVA's sentinel): the
 *     model puts projected image features there
 * @param padTokenId the id at padding positions; padding is known from the sequence's length, never
 *     inferred from this id
 * @param imageSize side of the square images stored (resized for the vision tower), or 0 when the
 *     source images are stored as they came
 * @param template the text layout of one sample ({@value #CAPTION_TEMPLATE}: {@code <s> IMAGE \n
 *     caption <|im_end|>})
 * @param tokenizer SHA-256 of the {@code tokenizer.json} that produced the ids
 * @param vocabularySize ids the tokenizer can produce (base vocabulary plus added tokens): the
 *     smallest embedding a model trained on this data needs
 */
public record PackedLayout(
    int sequenceLength,
    int imageTokens,
    int imageTokenId,
    int padTokenId,
    int imageSize,
    String template,
    String tokenizer,
    int vocabularySize) {

  /** The image sentinel of LLaVA-style models (IMAGE_TOKEN_INDEX). */
  public static final int IMAGE_TOKEN_ID = -200;

  public static final String CAPTION_TEMPLATE = "caption";

  public PackedLayout {
    if (sequenceLength < 1) {
      throw new IllegalArgumentException("sequenceLength must be >= 1, got " + sequenceLength);
    }
    if (imageTokens < 1 || imageTokens >= sequenceLength) {
      throw new IllegalArgumentException(
          "imageTokens must be in 1.." + (sequenceLength - 1) + ", got " + imageTokens);
    }
    if (vocabularySize < 1) {
      throw new IllegalArgumentException("vocabularySize must be >= 1, got " + vocabularySize);
    }
    if (imageSize < 0) {
      throw new IllegalArgumentException("imageSize must be >= 0, got " + imageSize);
    }
  }

  /** As stored in the manifest. */
  public Map<String, Object> toMap() {
    Map<String, Object> map = new LinkedHashMap<>();
    map.put("sequenceLength", sequenceLength);
    map.put("imageTokens", imageTokens);
    map.put("imageTokenId", imageTokenId);
    map.put("padTokenId", padTokenId);
    map.put("imageSize", imageSize);
    map.put("template", template);
    map.put("tokenizer", tokenizer);
    map.put("vocabularySize", vocabularySize);
    return map;
  }

  /**
   * Reads a layout written by {@link #toMap}.
   *
   * @throws IllegalArgumentException naming the field that is missing or wrong
   */
  public static PackedLayout fromMap(Map<String, Object> map) {
    if (map == null) {
      throw new IllegalArgumentException("packed manifest has no layout");
    }
    return new PackedLayout(
        intField(map, "sequenceLength"),
        intField(map, "imageTokens"),
        intField(map, "imageTokenId"),
        intField(map, "padTokenId"),
        intField(map, "imageSize"),
        String.valueOf(map.get("template")),
        String.valueOf(map.get("tokenizer")),
        intField(map, "vocabularySize"));
  }

  private static int intField(Map<String, Object> map, String name) {
    Object value = map.get(name);
    if (!(value instanceof Number number)) {
      throw new IllegalArgumentException("packed layout field " + name + " is " + value);
    }
    return number.intValue();
  }
}
