package dev.tessera.curator.curate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns captions into the token ids a CLIP or SigLIP text tower reads: special tokens added, at
 * most {@code maxTokens}, truncated as Hugging Face truncates (the trailing end-of-text token
 * stays).
 *
 * <p>Two formats: a {@code tokenizer.json} ({@link JsonCaptionTokenizer}, any Hugging Face fast
 * tokenizer), and SigLIP's SentencePiece {@code spiece.model} ({@link SiglipCaptionTokenizer}, as
 * Google published SigLIP).
 */
interface CaptionTokenizer extends AutoCloseable {

  /** The caption's ids, special tokens added, at most {@code maxTokens}; not padded. */
  int[] encode(String caption);

  /** The id of one token, or -1 when {@code token} is not a single token of the vocabulary. */
  int id(String token);

  /**
   * The token SigLIP captions are padded with when the spec names none: the tokenizer's own {@code
   * pad_token} as its {@code tokenizer_config.json} or {@code special_tokens_map.json} says, else
   * the format's default.
   */
  String padToken();

  @Override
  void close();

  /**
   * Opens {@code tokenizer}, or when it is null the model directory's {@code tokenizer.json} or
   * else its {@code spiece.model}. A file whose name ends in {@code .model} is SentencePiece.
   */
  static CaptionTokenizer open(Path modelDir, Path tokenizer, int maxTokens) throws IOException {
    Path file = tokenizer;
    if (file == null) {
      file = modelDir.resolve("tokenizer.json");
      if (!Files.isRegularFile(file) && Files.isRegularFile(modelDir.resolve("spiece.model"))) {
        file = modelDir.resolve("spiece.model");
      }
    }
    if (!Files.isRegularFile(file)) {
      throw new IOException(
          "clipScore.tokenizer: no file "
              + file
              + (tokenizer == null ? " (nor spiece.model there; name the tokenizer)" : ""));
    }
    keepDjlOffline();
    TokenizerSettings settings = TokenizerSettings.beside(file);
    return file.getFileName().toString().endsWith(".model")
        ? SiglipCaptionTokenizer.open(file, maxTokens, settings)
        : JsonCaptionTokenizer.open(file, maxTokens, settings);
  }

  /** The DJL libraries must not reach for the network, and need a writable place for natives. */
  private static void keepDjlOffline() {
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    if (System.getProperty("DJL_CACHE_DIR") == null && System.getenv("DJL_CACHE_DIR") == null) {
      System.setProperty(
          "DJL_CACHE_DIR", Path.of(System.getProperty("java.io.tmpdir"), "tessera-djl").toString());
    }
  }

  /**
   * What a Hugging Face tokenizer directory says beside the vocabulary: {@code pad_token} and
   * {@code do_lower_case} from {@code tokenizer_config.json}, else {@code special_tokens_map.json};
   * null where neither says.
   */
  record TokenizerSettings(String padToken, Boolean lowerCase) {
    private static final ObjectMapper JSON = new ObjectMapper();

    static TokenizerSettings beside(Path vocabulary) throws IOException {
      Path dir = vocabulary.toAbsolutePath().getParent();
      JsonNode config = read(dir.resolve("tokenizer_config.json"));
      JsonNode specials = read(dir.resolve("special_tokens_map.json"));
      String pad = tokenText(config.get("pad_token"));
      if (pad == null) {
        pad = tokenText(specials.get("pad_token"));
      }
      JsonNode lower = config.get("do_lower_case");
      return new TokenizerSettings(pad, lower == null || lower.isNull() ? null : lower.asBoolean());
    }

    private static JsonNode read(Path file) throws IOException {
      if (!Files.isRegularFile(file)) {
        return JSON.createObjectNode();
      }
      try {
        return JSON.readTree(file.toFile());
      } catch (IOException e) {
        throw new IOException(
            "clipScore.tokenizer: " + file + " is not JSON: " + e.getMessage(), e);
      }
    }

    /** A token is written as its text or as an object with {@code content} (an AddedToken). */
    private static String tokenText(JsonNode node) {
      if (node == null || node.isNull()) {
        return null;
      }
      return node.isObject() ? node.path("content").asText(null) : node.asText();
    }
  }
}
