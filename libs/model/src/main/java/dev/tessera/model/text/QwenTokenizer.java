package dev.tessera.model.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Qwen2.5 byte-level BPE tokenizer with Open-Qwen2VL's two extra special tokens, read from a
 * Hugging Face {@code tokenizer.json} and run in Java ({@link ByteLevelBpe}; the tests check every
 * id against the Rust {@code tokenizers} library).
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

  private final ByteLevelBpe bpe;
  private final Map<String, Integer> specialIds;
  private final int vocabularySize;

  private QwenTokenizer(ByteLevelBpe bpe, Map<String, Integer> specialIds, int size) {
    this.bpe = bpe;
    this.specialIds = Map.copyOf(specialIds);
    this.vocabularySize = size;
  }

  /**
   * Loads a Qwen2-family {@code tokenizer.json} and adds Open-Qwen2VL's special tokens.
   *
   * @throws IOException when the file is missing or is not a Qwen2-style byte-level BPE
   *     tokenizer.json
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
    String pattern = pretokenizerPattern(root.path("pre_tokenizer"), tokenizerJson);
    String normalizer = root.path("normalizer").path("type").asText("");
    if (!normalizer.isEmpty() && !normalizer.equals("NFC")) {
      throw new IOException(
          "tokenizer " + tokenizerJson + " uses the " + normalizer + " normalizer; Qwen2 uses NFC");
    }

    Map<String, Integer> vocabulary = new HashMap<>();
    for (Map.Entry<String, JsonNode> entry : model.path("vocab").properties()) {
      vocabulary.put(entry.getKey(), entry.getValue().asInt());
    }
    List<String[]> merges = new ArrayList<>();
    for (JsonNode merge : model.path("merges")) {
      String[] pair;
      if (merge.isArray() && merge.size() == 2) {
        pair = new String[] {merge.get(0).asText(), merge.get(1).asText()};
      } else {
        pair = merge.asText().split(" ", 2);
      }
      if (pair.length != 2) {
        throw new IOException("tokenizer " + tokenizerJson + " has a malformed merge " + merge);
      }
      merges.add(pair);
    }
    int baseVocabulary = vocabulary.size();

    Map<String, Integer> added = new HashMap<>();
    Map<String, Integer> specialIds = new HashMap<>();
    int nextId = baseVocabulary;
    for (JsonNode token : root.path("added_tokens")) {
      int id = token.path("id").asInt();
      if (id > LAST_QWEN25_ID) {
        continue;
      }
      String content = token.path("content").asText();
      added.put(content, id);
      specialIds.put(content, id);
      nextId = Math.max(nextId, id + 1);
    }
    for (String content : ADDED_BY_OPEN_QWEN2VL) {
      if (specialIds.containsKey(content)) {
        continue;
      }
      // As Hugging Face's AddedVocabulary does: a token already in the vocabulary keeps its id.
      Integer existing = vocabulary.get(content);
      int id = existing != null ? existing : nextId++;
      added.put(content, id);
      specialIds.put(content, id);
    }
    for (String required : List.of(END_OF_TEXT, IM_START, IM_END)) {
      if (!specialIds.containsKey(required)) {
        throw new IOException(
            "tokenizer " + tokenizerJson + " lacks " + required + ": not a Qwen2-family tokenizer");
      }
    }
    ByteLevelBpe bpe;
    try {
      bpe = new ByteLevelBpe(vocabulary, merges, added, pattern);
    } catch (IllegalArgumentException e) {
      throw new IOException("tokenizer " + tokenizerJson + ": " + e.getMessage(), e);
    }
    return new QwenTokenizer(bpe, specialIds, nextId);
  }

  /** The regex of the Split pre-tokenizer followed by a regex-free ByteLevel, as Qwen2 has. */
  private static String pretokenizerPattern(JsonNode pre, Path file) throws IOException {
    if ("Sequence".equals(pre.path("type").asText())) {
      JsonNode steps = pre.path("pretokenizers");
      if (steps.size() == 2
          && "Split".equals(steps.get(0).path("type").asText())
          && steps.get(0).path("pattern").has("Regex")
          && "Isolated".equals(steps.get(0).path("behavior").asText())
          && !steps.get(0).path("invert").asBoolean()
          && "ByteLevel".equals(steps.get(1).path("type").asText())
          && !steps.get(1).path("add_prefix_space").asBoolean()
          && !steps.get(1).path("use_regex").asBoolean()) {
        return steps.get(0).path("pattern").path("Regex").asText();
      }
    }
    throw new IOException(
        "tokenizer "
            + file
            + " has a pre-tokenizer other than Qwen2's (Split regex, then byte-level): "
            + pre);
  }

  /** Token ids of {@code text}; special tokens written in the text are recognised as such. */
  public int[] encodeIds(String text) {
    return bpe.encode(text);
  }

  /** Token ids of {@code text}, as longs. */
  public long[] encode(String text) {
    return Arrays.stream(bpe.encode(text)).asLongStream().toArray();
  }

  /** Token ids of several texts. */
  public long[][] encode(List<String> texts) {
    long[][] ids = new long[texts.size()][];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = encode(texts.get(i));
    }
    return ids;
  }

  /** Text of {@code ids}, special tokens included. */
  public String decode(long[] ids) {
    return bpe.decode(ids);
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

  /** Nothing to release; kept so callers can hold the tokenizer in try-with-resources. */
  @Override
  public void close() {}
}
