package dev.tessera.curator.curate;

import ai.djl.sentencepiece.SpProcessor;
import ai.djl.sentencepiece.SpTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * SigLIP's caption tokenizer as Hugging Face's {@code SiglipTokenizer} runs it over the
 * SentencePiece {@code spiece.model} Google published with SigLIP, so that a checkpoint without a
 * {@code tokenizer.json} reads captions exactly as it was evaluated:
 *
 * <ol>
 *   <li>lower-case, one code point at a time (HF lowercases everything but special tokens);
 *   <li>prefix {@code ▁}, after turning any {@code ▁} in the caption into a space;
 *   <li>split at the special tokens {@code </s>} and {@code <unk>} (and the pad token), stripping
 *       the whitespace beside them;
 *   <li>each piece of text between them canonicalised as big_vision does: ASCII punctuation
 *       removed, runs of whitespace made one space, ends trimmed;
 *   <li>SentencePiece with its dummy prefix switched off, encoding {@code <unk>} + text and
 *       dropping the pieces of {@code <unk>} again (HF's way to keep SentencePiece from treating
 *       the start of the text specially);
 *   <li>a leading lone {@code ▁} before a special token dropped; {@code </s>} appended unless the
 *       ids already end with it; truncated first to {@code maxTokens - 1} so it stays.
 * </ol>
 *
 * Whitespace is Python's ({@code str.isspace}), as HF's {@code re.sub(r"\s+")} and {@code strip}
 * see it. {@code SentencePiece} itself (normalisation and the unigram or BPE segmentation) is the
 * C++ library, through DJL.
 */
final class SiglipCaptionTokenizer implements CaptionTokenizer {
  static final String EOS = "</s>";
  static final String UNK = "<unk>";

  /** A {@code NormalizerSpec} with {@code add_dummy_prefix = false}, as field 3 of ModelProto. */
  private static final byte[] NO_DUMMY_PREFIX = {0x1A, 0x02, 0x18, 0x00};

  private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  private static final char WORD_START = '\u2581';

  private final SpTokenizer sentencePiece;
  private final SpProcessor processor;
  private final int maxTokens;
  private final boolean lowerCase;
  private final String padToken;
  private final List<String> specialTokens;
  private final int eosId;
  private final int unkPieces;

  private SiglipCaptionTokenizer(
      SpTokenizer sentencePiece, int maxTokens, boolean lowerCase, String padToken) {
    this.sentencePiece = sentencePiece;
    this.processor = sentencePiece.getProcessor();
    this.maxTokens = maxTokens;
    this.lowerCase = lowerCase;
    this.padToken = padToken;
    this.specialTokens =
        padToken.equals(EOS) || padToken.equals(UNK)
            ? List.of(EOS, UNK)
            : List.of(EOS, UNK, padToken);
    this.eosId = processor.getId(EOS);
    this.unkPieces = processor.tokenize(UNK).length;
  }

  static SiglipCaptionTokenizer open(Path file, int maxTokens, TokenizerSettings settings)
      throws IOException {
    if (maxTokens < 2) {
      throw new IllegalArgumentException("clipScore.maxTokens " + maxTokens + " leaves no text");
    }
    byte[] model = Files.readAllBytes(file);
    // A second NormalizerSpec merges into the first, as protobuf merges a repeated message field:
    // this is HF's `model.normalizer_spec.MergeFrom(NormalizerSpec(add_dummy_prefix=False))`.
    byte[] adjusted = Arrays.copyOf(model, model.length + NO_DUMMY_PREFIX.length);
    System.arraycopy(NO_DUMMY_PREFIX, 0, adjusted, model.length, NO_DUMMY_PREFIX.length);
    SpTokenizer sentencePiece;
    try {
      sentencePiece = new SpTokenizer(adjusted);
    } catch (RuntimeException e) {
      throw new IOException(
          "clipScore.tokenizer: " + file + " is not a SentencePiece model: " + e.getMessage(), e);
    }
    String pad = settings.padToken() == null ? EOS : settings.padToken();
    for (String required : new String[] {EOS, UNK, pad}) {
      if (!isPiece(sentencePiece.getProcessor(), required)) {
        sentencePiece.close();
        throw new IOException(
            "clipScore.tokenizer: " + file + " has no piece " + required + " (not SigLIP's)");
      }
    }
    boolean lowerCase = settings.lowerCase() == null || settings.lowerCase();
    return new SiglipCaptionTokenizer(sentencePiece, maxTokens, lowerCase, pad);
  }

  private static boolean isPiece(SpProcessor processor, String token) {
    return token.equals(processor.getToken(processor.getId(token)));
  }

  @Override
  public int[] encode(String caption) {
    String text = WORD_START + caption.replace(WORD_START, ' ');
    if (lowerCase) {
      text = lowerCase(text);
    }
    List<String> tokens = new ArrayList<>();
    for (String chunk : splitAtSpecialTokens(text)) {
      if (specialTokens.contains(chunk)) {
        tokens.add(chunk);
      } else {
        String canonical = canonicalize(chunk);
        String[] pieces = processor.tokenize(UNK + canonical);
        tokens.addAll(
            pieces.length >= unkPieces
                ? Arrays.asList(pieces).subList(unkPieces, pieces.length)
                : Arrays.asList(pieces));
      }
    }
    if (tokens.size() > 1
        && tokens.get(0).equals(String.valueOf(WORD_START))
        && specialTokens.contains(tokens.get(1))) {
      tokens.remove(0);
    }
    int kept = Math.min(tokens.size(), maxTokens - 1);
    int[] ids = new int[kept + 1];
    for (int i = 0; i < kept; i++) {
      ids[i] = processor.getId(tokens.get(i));
    }
    if (kept > 0 && ids[kept - 1] == eosId) {
      return Arrays.copyOf(ids, kept);
    }
    ids[kept] = eosId;
    return ids;
  }

  /**
   * The text cut at every special token; a special token is a chunk of its own, and the whitespace
   * on both sides of it goes (HF's added tokens with {@code lstrip} and {@code rstrip}). Empty
   * chunks are left out.
   */
  List<String> splitAtSpecialTokens(String text) {
    List<String> chunks = new ArrayList<>();
    int from = 0;
    boolean afterSpecial = false;
    while (from <= text.length()) {
      int at = text.length();
      String found = null;
      for (String special : specialTokens) {
        int index = text.indexOf(special, from);
        if (index >= 0
            && (index < at || index == at && found != null && special.length() > found.length())) {
          at = index;
          found = special;
        }
      }
      String before = text.substring(from, at);
      if (afterSpecial) {
        before = stripLeading(before);
      }
      if (found != null) {
        before = stripTrailing(before);
      }
      if (!before.isEmpty()) {
        chunks.add(before);
      }
      if (found == null) {
        break;
      }
      chunks.add(found);
      from = at + found.length();
      afterSpecial = true;
    }
    return chunks;
  }

  /** big_vision's caption canonicalisation as HF's {@code SiglipTokenizer.canonicalize_text}. */
  static String canonicalize(String text) {
    StringBuilder out = new StringBuilder(text.length());
    boolean inSpace = false;
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      if (cp < 128 && PUNCTUATION.indexOf(cp) >= 0) {
        continue;
      }
      if (isPythonSpace(cp)) {
        if (!inSpace) {
          out.append(' ');
        }
        inSpace = true;
      } else {
        out.appendCodePoint(cp);
        inSpace = false;
      }
    }
    return stripLeading(stripTrailing(out.toString()));
  }

  /**
   * Python's {@code str.lower} applied one code point at a time, as HF's lower-casing regex hands
   * it one character per match: full case mappings ({@code İ} becomes two chars), no final sigma.
   */
  static String lowerCase(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      out.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT));
    }
    return out.toString();
  }

  /** Python's {@code str.isspace}: Unicode space separators and the whitespace bidi classes. */
  static boolean isPythonSpace(int cp) {
    int type = Character.getType(cp);
    if (type == Character.SPACE_SEPARATOR
        || type == Character.LINE_SEPARATOR
        || type == Character.PARAGRAPH_SEPARATOR) {
      return true;
    }
    byte direction = Character.getDirectionality(cp);
    return direction == Character.DIRECTIONALITY_WHITESPACE
        || direction == Character.DIRECTIONALITY_PARAGRAPH_SEPARATOR
        || direction == Character.DIRECTIONALITY_SEGMENT_SEPARATOR;
  }

  private static String stripLeading(String text) {
    int start = 0;
    while (start < text.length() && isPythonSpace(text.codePointAt(start))) {
      start += Character.charCount(text.codePointAt(start));
    }
    return text.substring(start);
  }

  private static String stripTrailing(String text) {
    int end = text.length();
    while (end > 0 && isPythonSpace(text.codePointBefore(end))) {
      end -= Character.charCount(text.codePointBefore(end));
    }
    return text.substring(0, end);
  }

  @Override
  public int id(String token) {
    return isPiece(processor, token) ? processor.getId(token) : -1;
  }

  @Override
  public String padToken() {
    return padToken;
  }

  @Override
  public void close() {
    sentencePiece.close();
  }
}
