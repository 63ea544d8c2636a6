package dev.tessera.model.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Qwen2.5 byte-level BPE tokenizer with Open-Qwen2VL's two extra special tokens, over the Rust
 * {@code tokenizers} library (DJL bindings, natives bundled, no network).
 *
 * <p>Open-Qwen2VL adds {@code <|endofchunk|>} and {@code <s>} as special tokens to Qwen2.5's
 * 151,665. {@code <|endofchunk|>} is new and gets id 151665 (a spare row of the 151,936-row
 * embedding); {@code <s>} is already an ordinary BPE token of the vocabulary, and Hugging Face's
 * tokenizers give an added token that exists in the vocabulary its existing id: BOS is 128245, now
 * matched as a special token. Any Qwen2-family {@code tokenizer.json} with the same base vocabulary
 * works: added tokens past Qwen2.5's last ({@code <|file_sep|>}, 151664) — Qwen3's {@code
 * <tool_response>}, {@code <think>}, … — are dropped first, so ids match the reference model's
 * whatever file is given.
 */
public final class QwenTokenizer implements AutoCloseable {
  /** Qwen2.5's last added token; everything after it is another model's. */
  public static final int LAST_QWEN25_ID = 151664;

  public static final String END_OF_TEXT = "<|endoftext|>";
  public static final String IM_START = "<|im_start|>";
  public static final String IM_END = "<|im_end|>";
  public static final String END_OF_CHUNK = "<|endofchunk|>";
  public static final String BOS = "<s>";

  private static final List<String> ADDED_BY_OPEN_QWEN2VL = List.of(END_OF_CHUNK, BOS);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final HuggingFaceTokenizer tokenizer;
  private final Map<String, Integer> specialIds;
  private final int vocabularySize;

  private QwenTokenizer(HuggingFaceTokenizer tokenizer, Map<String, Integer> specialIds, int size) {
    this.tokenizer = tokenizer;
    this.specialIds = Map.copyOf(specialIds);
    this.vocabularySize = size;
  }

  /**
   * Loads a Qwen2-family {@code tokenizer.json} and adds Open-Qwen2VL's special tokens.
   *
   * @throws IOException when the file is missing or is not a byte-level BPE tokenizer.json
   */
  public static QwenTokenizer load(Path tokenizerJson) throws IOException {
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new NoSuchFileException(tokenizerJson.toString(), null, "no tokenizer.json");
    }
    JsonNode root;
    try {
      root = JSON.readTree(tokenizerJson.toFile());
    } catch (IOException e) {
      throw new IOException(
          "tokenizer " + tokenizerJson + " is not valid JSON: " + e.getMessage(), e);
    }
    JsonNode model = root.path("model");
    if (!"BPE".equals(model.path("type").asText()) || !model.path("vocab").isObject()) {
      throw new IOException("tokenizer " + tokenizerJson + " is not a BPE tokenizer.json");
    }
    int baseVocabulary = model.path("vocab").size();

    ArrayNode added = JSON.createArrayNode();
    Map<String, Integer> specialIds = new HashMap<>();
    int nextId = baseVocabulary;
    for (JsonNode token : root.path("added_tokens")) {
      int id = token.path("id").asInt();
      if (id > LAST_QWEN25_ID) {
        continue;
      }
      added.add(token);
      specialIds.put(token.path("content").asText(), id);
      nextId = Math.max(nextId, id + 1);
    }
    for (String content : ADDED_BY_OPEN_QWEN2VL) {
      if (specialIds.containsKey(content)) {
        continue;
      }
      // As Hugging Face's AddedVocabulary does: a token already in the vocabulary keeps its id.
      JsonNode existing = model.path("vocab").get(content);
      int id = existing != null ? existing.asInt() : nextId++;
      ObjectNode token = JSON.createObjectNode();
      token.put("id", id);
      token.put("content", content);
      token.put("single_word", false);
      token.put("lstrip", false);
      token.put("rstrip", false);
      token.put("normalized", false);
      token.put("special", true);
      added.add(token);
      specialIds.put(content, id);
    }
    ((ObjectNode) root).set("added_tokens", added);
    for (String required : List.of(END_OF_TEXT, IM_START, IM_END)) {
      if (!specialIds.containsKey(required)) {
        throw new IOException(
            "tokenizer " + tokenizerJson + " lacks " + required + ": not a Qwen2-family tokenizer");
      }
    }

    Map<String, String> options = new HashMap<>();
    options.put("addSpecialTokens", "false");
    options.put("truncation", "false");
    options.put("padding", "false");
    options.put("maxLength", String.valueOf(1 << 20));
    HuggingFaceTokenizer tokenizer =
        HuggingFaceTokenizer.newInstance(
            new ByteArrayInputStream(JSON.writeValueAsBytes(root)), options);
    return new QwenTokenizer(tokenizer, specialIds, nextId);
  }

  /** Token ids of {@code text}; special tokens written in the text are recognised as such. */
  public long[] encode(String text) {
    Encoding encoding = tokenizer.encode(text, false, false);
    return encoding.getIds();
  }

  /** Token ids of several texts at once (faster than one by one). */
  public long[][] encode(List<String> texts) {
    Encoding[] encodings = tokenizer.batchEncode(texts, false, false);
    long[][] ids = new long[encodings.length][];
    for (int i = 0; i < encodings.length; i++) {
      ids[i] = encodings[i].getIds();
    }
    return ids;
  }

  /** Text of {@code ids}, special tokens included. */
  public String decode(long[] ids) {
    return tokenizer.decode(ids, false);
  }

  /** The id of a special (added) token. */
  public int specialId(String token) {
    Integer id = specialIds.get(token);
    if (id == null) {
      throw new IllegalArgumentException("no special token " + token + " in this tokenizer");
    }
    return id;
  }

  /** Ids in use: base vocabulary plus added tokens (the embedding may have more rows). */
  public int vocabularySize() {
    return vocabularySize;
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
