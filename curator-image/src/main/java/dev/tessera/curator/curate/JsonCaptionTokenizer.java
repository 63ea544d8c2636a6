package dev.tessera.curator.curate;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json}, read by the Rust tokenizers library itself: special tokens
 * are added as the tokenizer's post-processor says, and truncation keeps them.
 */
final class JsonCaptionTokenizer implements CaptionTokenizer {
  /** SigLIP models with a {@code tokenizer.json} (SigLIP 2's Gemma vocabulary) pad with this. */
  static final String DEFAULT_PAD = "<pad>";

  private final HuggingFaceTokenizer tokenizer;
  private final String padToken;

  private JsonCaptionTokenizer(HuggingFaceTokenizer tokenizer, String padToken) {
    this.tokenizer = tokenizer;
    this.padToken = padToken;
  }

  static JsonCaptionTokenizer open(Path file, int maxTokens, TokenizerSettings settings)
      throws IOException {
    Map<String, String> options = new HashMap<>();
    options.put("addSpecialTokens", "true");
    options.put("truncation", "true");
    options.put("padding", "false");
    options.put("maxLength", String.valueOf(maxTokens));
    HuggingFaceTokenizer tokenizer;
    try {
      tokenizer = HuggingFaceTokenizer.newInstance(file, options);
    } catch (RuntimeException e) {
      throw new IOException(
          "clipScore.tokenizer: " + file + " is not a tokenizer.json: " + e.getMessage(), e);
    }
    return new JsonCaptionTokenizer(
        tokenizer, settings.padToken() == null ? DEFAULT_PAD : settings.padToken());
  }

  @Override
  public int[] encode(String caption) {
    return Arrays.stream(tokenizer.encode(caption).getIds()).mapToInt(Math::toIntExact).toArray();
  }

  @Override
  public int id(String token) {
    long[] ids = tokenizer.encode(token, false, false).getIds();
    return ids.length == 1 ? Math.toIntExact(ids[0]) : -1;
  }

  @Override
  public String padToken() {
    return padToken;
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
