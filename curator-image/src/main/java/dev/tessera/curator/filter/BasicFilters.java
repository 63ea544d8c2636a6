package dev.tessera.curator.filter;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The basic filters of web image-text curation (DataComp's and Open-Qwen2VL's pre-filters): image
 * size, aspect ratio and information content, caption length, share of letters and a word-shape
 * language heuristic. Each failed check is a named reason; a sample passes when it has none.
 *
 * @param minSide shorter image side, pixels
 * @param maxPixels pixel count above which an image is refused (before decoding, by the caller)
 * @param maxAspect longer side over shorter side
 * @param minContrast standard deviation of grey levels below which an image is one flat colour
 * @param minWords words in the caption
 * @param maxWords words above which a caption is not a caption
 * @param minLetterShare letters among the caption's non-space characters
 * @param minWordLikeShare tokens that look like words (letters with a vowel, or a number)
 */
public record BasicFilters(
    int minSide,
    long maxPixels,
    double maxAspect,
    double minContrast,
    int minWords,
    int maxWords,
    double minLetterShare,
    double minWordLikeShare) {

  /** Thresholds for web-crawled image-text data. */
  public static BasicFilters defaults() {
    return new BasicFilters(64, 89_478_485L, 3.5, 1.0, 2, 200, 0.6, 0.6);
  }

  /** Why {@code image} fails, as reason names; empty when it passes. */
  public List<String> imageProblems(BufferedImage image) {
    return imageProblems(image, contrast(image));
  }

  /** As {@link #imageProblems(BufferedImage)} with the image's contrast already measured. */
  List<String> imageProblems(BufferedImage image, double contrast) {
    List<String> problems = new ArrayList<>();
    int width = image.getWidth();
    int height = image.getHeight();
    if (Math.min(width, height) < minSide) {
      problems.add("small_image");
    }
    if ((long) width * height > maxPixels) {
      problems.add("oversized_image");
    }
    if ((double) Math.max(width, height) / Math.max(1, Math.min(width, height)) > maxAspect) {
      problems.add("extreme_aspect");
    }
    if (contrast < minContrast) {
      problems.add("blank_image");
    }
    return problems;
  }

  /** Why {@code caption} fails, as reason names; empty when it passes. */
  public List<String> captionProblems(String caption) {
    List<String> problems = new ArrayList<>();
    String[] words = caption.strip().isEmpty() ? new String[0] : WHITESPACE.split(caption.strip());
    if (words.length < minWords) {
      problems.add("short_caption");
      return problems;
    }
    if (words.length > maxWords) {
      problems.add("long_caption");
    }
    int letters = 0;
    int visible = 0;
    for (int i = 0; i < caption.length(); ) {
      int cp = caption.codePointAt(i);
      i += Character.charCount(cp);
      if (!Character.isWhitespace(cp)) {
        visible++;
        letters += Character.isLetter(cp) ? 1 : 0;
      }
    }
    if (visible == 0 || (double) letters / visible < minLetterShare) {
      problems.add("few_letters");
    }
    int wordLike = 0;
    for (String word : words) {
      wordLike += looksLikeWord(word) ? 1 : 0;
    }
    if ((double) wordLike / words.length < minWordLikeShare) {
      problems.add("not_language");
    }
    return problems;
  }

  /**
   * A token that reads as a word: letters (an apostrophe or hyphen inside allowed) with a vowel and
   * not four consonants in a row, or a number; trailing punctuation ignored. Scripts without Latin
   * vowels count as words when they are all letters.
   */
  static boolean looksLikeWord(String token) {
    String word = EDGE_PUNCTUATION.matcher(token).replaceAll("");
    if (word.isEmpty()) {
      return false;
    }
    if (NUMBER.matcher(word).matches()) {
      return true;
    }
    if (!LETTERS.matcher(word).matches()) {
      return false;
    }
    String lower = word.toLowerCase(Locale.ROOT);
    if (!LATIN.matcher(lower).find()) {
      return true;
    }
    return VOWEL.matcher(lower).find() && !CONSONANT_RUN.matcher(lower).find();
  }

  // Compiled once: String.matches and replaceAll compile their pattern on every call.
  private static final Pattern EDGE_PUNCTUATION = Pattern.compile("^[\\p{Punct}]+|[\\p{Punct}]+$");
  private static final Pattern NUMBER = Pattern.compile("\\d+([.,]\\d+)?");
  private static final Pattern LETTERS = Pattern.compile("[\\p{L}]+(['-][\\p{L}]+)*");
  private static final Pattern LATIN = Pattern.compile("[a-z]");
  private static final Pattern VOWEL = Pattern.compile("[aeiouy]");
  private static final Pattern CONSONANT_RUN = Pattern.compile("[bcdfghjklmnpqrstvwxz]{5,}");
  private static final Pattern WHITESPACE = Pattern.compile("\\s+");

  /**
   * Standard deviation of the grey levels, on a grid of at most about 256×256 pixels (fine enough
   * not to miss a small object on a plain background).
   */
  static double contrast(BufferedImage image) {
    return ImageSurvey.of(image).contrast();
  }
}
