package dev.tessera.model.text;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.data.synth.Captioner;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java tokenizer against the Rust {@code tokenizers} library (Hugging Face's, through DJL) on
 * the same {@code tokenizer.json} with the same added tokens: every id equal, on captions, chat
 * markup, mixed scripts, emoji, white space of every kind and random Unicode text.
 */
class RustTokenizerAgreementTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static QwenTokenizer java;
  private static HuggingFaceTokenizer rust;

  @BeforeAll
  static void load() throws IOException {
    Path file = QwenTokenizerFiles.tokenizerJson();
    java = QwenTokenizer.load(file);
    rust = rustWithOpenQwen2vlTokens(file);
  }

  @AfterAll
  static void close() {
    rust.close();
  }

  /** The Rust tokenizer with the same added-token edits the Java loader makes. */
  private static HuggingFaceTokenizer rustWithOpenQwen2vlTokens(Path file) throws IOException {
    JsonNode root = JSON.readTree(file.toFile());
    JsonNode vocab = root.path("model").path("vocab");
    ArrayNode added = JSON.createArrayNode();
    int nextId = vocab.size();
    for (JsonNode token : root.path("added_tokens")) {
      if (token.path("id").asInt() <= QwenTokenizer.LAST_QWEN25_ID) {
        added.add(token);
        nextId = Math.max(nextId, token.path("id").asInt() + 1);
      }
    }
    for (String content : List.of(QwenTokenizer.END_OF_CHUNK, QwenTokenizer.BOS)) {
      ObjectNode token = JSON.createObjectNode();
      token.put("id", vocab.has(content) ? vocab.get(content).asInt() : nextId++);
      token.put("content", content);
      token.put("single_word", false);
      token.put("lstrip", false);
      token.put("rstrip", false);
      token.put("normalized", false);
      token.put("special", true);
      added.add(token);
    }
    ((ObjectNode) root).set("added_tokens", added);
    Map<String, String> options = new HashMap<>();
    options.put("addSpecialTokens", "false");
    options.put("truncation", "false");
    options.put("padding", "false");
    options.put("maxLength", String.valueOf(1 << 20));
    return HuggingFaceTokenizer.newInstance(
        new ByteArrayInputStream(JSON.writeValueAsBytes(root)), options);
  }

  private static void assertAgree(List<String> texts) {
    for (String text : texts) {
      long[] expected = rust.encode(text, false, false).getIds();
      assertThat(java.encode(text)).as("ids of %s", escape(text)).containsExactly(expected);
      assertThat(java.decode(expected))
          .as("decode of %s", escape(text))
          .isEqualTo(rust.decode(expected, false));
    }
  }

  private static String escape(String text) {
    StringBuilder out = new StringBuilder("\"");
    text.codePoints()
        .forEach(
            cp -> {
              if (cp >= 0x20 && cp < 0x7F) {
                out.appendCodePoint(cp);
              } else {
                out.append(String.format("\\u{%x}", cp));
              }
            });
    return out.append('"').toString();
  }

  @Test
  void agreesOnHandPickedText() {
    assertAgree(
        List.of(
            "",
            " ",
            "Hello world!",
            "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hello world! 你好 café<|im_end|>",
            "<s>\nThree red circles on a blue background.<|im_end|>",
            "a<|endofchunk|>b<s><s>  <|im_end|><|im_end",
            "I'm sure they'll say it's 'fine' -- THEY'RE WE'VE I'D",
            "numbers 1234567890 3.14159 1,000,000 ¼ ½ ² Ⅻ ٣",
            "tabs\tand\nnew\r\nlines\n\n\n   trailing   ",
            "non\u00a0breaking\u2003em\u3000ideographic\u2028sep",
            "emoji 🙂👍🏽 👨‍👩‍👧 flags 🇫🇷 ZWJ\u200d",
            "combining e\u0301 vs é, Å vs A\u030a, ﬁ ligature, Ｆｕｌｌｗｉｄｔｈ",
            "русский текст, ελληνικά, עברית, العربية, हिन्दी, 日本語のテキスト, 한국어",
            "code: for (int i = 0; i < n; i++) { x += a[i] * b[i]; } // ok?!",
            "URL https://example.com/a_b-c?d=e&f=g#h and mail a.b@c.de",
            "<image> literal and <image-placeholder> and <think> and </s>",
            "Ǆǅǆ ǈ ſ ẞ ß İ ı 'S 'T"));
  }

  /** Sentences over the synthetic captioner's vocabulary, with the punctuation of captions. */
  @Test
  void agreesOnCaptionLikeText() {
    List<String> words = new ArrayList<>(Captioner.vocabulary());
    words.sort(null);
    String[] punctuation = {"", "", "", ",", ".", ";", " -", "!", "?", "'s", ":"};
    SplittableRandom rng = new SplittableRandom(3);
    List<String> captions = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      StringBuilder caption = new StringBuilder();
      int length = 3 + rng.nextInt(25);
      for (int w = 0; w < length; w++) {
        String word = words.get(rng.nextInt(words.size()));
        if (w == 0 || rng.nextInt(10) == 0) {
          word = Character.toUpperCase(word.charAt(0)) + word.substring(1);
        }
        caption.append(w == 0 ? "" : " ").append(word);
        caption.append(punctuation[rng.nextInt(punctuation.length)]);
        if (rng.nextInt(30) == 0) {
          caption.append(' ').append(rng.nextInt(2000));
        }
      }
      captions.add(caption.toString());
    }
    assertAgree(captions);
  }

  @Test
  void agreesOnRandomUnicodeText() {
    SplittableRandom rng = new SplittableRandom(4);
    int[][] ranges = {
      {0x20, 0x7E},
      {0x09, 0x0D},
      {0xA0, 0x17F},
      {0x300, 0x36F},
      {0x370, 0x3FF},
      {0x400, 0x4FF},
      {0x590, 0x6FF},
      {0x900, 0x97F},
      {0x2000, 0x206F},
      {0x3000, 0x30FF},
      {0x4E00, 0x4FFF},
      {0xAC00, 0xAC7F},
      {0xFF00, 0xFFEF},
      {0x1F300, 0x1F64F},
      {0x1D400, 0x1D4FF}
    };
    List<String> texts = new ArrayList<>();
    for (int t = 0; t < 3000; t++) {
      StringBuilder text = new StringBuilder();
      int length = 1 + rng.nextInt(40);
      for (int i = 0; i < length; i++) {
        int[] range = ranges[rng.nextInt(ranges.length)];
        int cp = range[0] + rng.nextInt(range[1] - range[0] + 1);
        if (Character.isDefined(cp) && !Character.isSurrogate((char) cp)) {
          text.appendCodePoint(cp);
        }
        if (rng.nextInt(8) == 0) {
          text.append(' ');
        }
      }
      texts.add(text.toString());
    }
    assertAgree(texts);
  }

  /** Short strings over the characters where pre-tokenizers most often disagree. */
  @Test
  void agreesOnAdversarialShortStrings() {
    String[] alphabet = {
      "'",
      "s",
      "S",
      "t",
      "re",
      "LL",
      " ",
      " ",
      "\n",
      "\r",
      "\t",
      "\u00a0",
      "\u2003",
      "1",
      "42",
      "!",
      ".",
      "é",
      "e\u0301",
      "\u017f",
      "\u212a",
      "\u0130",
      "\ud83d\ude42",
      "a",
      "\u4e2d",
      "<s>",
      "<|im_end|>",
      "<",
      "|",
      "\u0663",
      "\u00b2",
      "_",
      "-",
      "\u200d",
      "\ufeff"
    };
    SplittableRandom rng = new SplittableRandom(5);
    List<String> texts = new ArrayList<>();
    for (int t = 0; t < 5000; t++) {
      StringBuilder text = new StringBuilder();
      int length = 1 + rng.nextInt(12);
      for (int i = 0; i < length; i++) {
        text.append(alphabet[rng.nextInt(alphabet.length)]);
      }
      texts.add(text.toString());
    }
    assertAgree(texts);
  }
}
