package dev.tessera.curator.curate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.testing.Python;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SiglipCaptionTokenizerTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> WORDS =
      List.of(
          "a", "photo", "of", "the", "cat", "dog", "sitting", "on", "red", "blue", "green", "car",
          "house", "tree", "with", "man", "woman", "child", "playing", "in", "park", "street",
          "beach", "café", "naïve", "école", "two", "people", "table", "food", "plate", "sky");

  @TempDir Path dir;

  /** Ids from the words of {@link TinyImageText}: {@code a} 3 … {@code grass} 13. */
  private SiglipCaptionTokenizer tiny(int maxTokens) throws IOException {
    Path model = dir.resolve("spiece.model");
    SentencePieceModelFile.write(model, List.of("<pad>", "</s>", "<unk>"), TinyImageText.WORDS);
    return SiglipCaptionTokenizer.open(
        model, maxTokens, new CaptionTokenizer.TokenizerSettings(null, null));
  }

  @Test
  void captionsAreLowerCasedStrippedOfPunctuationAndEndWithEos() throws IOException {
    try (SiglipCaptionTokenizer tokenizer = tiny(64)) {
      assertThat(tokenizer.encode("A red CAT, on the  grass!"))
          .containsExactly(3, 4, 7, 11, 12, 13, 1);
      assertThat(tokenizer.encode("  a\u00a0cat\u3000\u3000on\tthe grass\n"))
          .containsExactly(3, 7, 11, 12, 13, 1);
      // An end-of-text token that ends the caption is not doubled.
      assertThat(tokenizer.encode("a cat </s>")).containsExactly(3, 7, 1);
      assertThat(tokenizer.encode("")).containsExactly(1);
      assertThat(tokenizer.encode("?!...")).containsExactly(1);
      assertThat(tokenizer.padToken()).isEqualTo("</s>");
      assertThat(tokenizer.id("</s>")).isEqualTo(1);
      assertThat(tokenizer.id("<pad>")).isZero();
      assertThat(tokenizer.id("\u2581grass")).isEqualTo(13);
      assertThat(tokenizer.id("grass")).isEqualTo(-1);
    }
  }

  @Test
  void aTokenizerConfigCanKeepTheCase() throws IOException {
    Path model = dir.resolve("cased.model");
    SentencePieceModelFile.write(model, List.of("<pad>", "</s>", "<unk>"), TinyImageText.WORDS);
    try (SiglipCaptionTokenizer tokenizer =
        SiglipCaptionTokenizer.open(
            model, 64, new CaptionTokenizer.TokenizerSettings("<pad>", false))) {
      // "▁RED" is no piece of the lower-case vocabulary: unknown.
      assertThat(tokenizer.encode("a RED cat")).containsExactly(3, 2, 7, 1);
      assertThat(tokenizer.padToken()).isEqualTo("<pad>");
    }
  }

  @Test
  void truncationKeepsTheEndOfTextToken() throws IOException {
    try (SiglipCaptionTokenizer tokenizer = tiny(4)) {
      assertThat(tokenizer.encode("a red cat on the grass")).containsExactly(3, 4, 7, 1);
      assertThat(tokenizer.encode("a red")).containsExactly(3, 4, 1);
    }
  }

  @Test
  void canonicalisationSeesWhitespaceAsPythonDoes() {
    for (int space : new int[] {' ', '\t', '\n', 0x0B, 0x1C, 0x1F, 0x85, 0xA0, 0x2007, 0x3000}) {
      assertThat(SiglipCaptionTokenizer.isPythonSpace(space)).as("U+%04X", space).isTrue();
    }
    for (int other : new int[] {'a', '_', 0x200B, 0x2060, 0xFEFF, 0x180E}) {
      assertThat(SiglipCaptionTokenizer.isPythonSpace(other)).as("U+%04X", other).isFalse();
    }
    assertThat(SiglipCaptionTokenizer.canonicalize("\u00a0 It's a \"cat\" -- (maybe)! \u3000"))
        .isEqualTo("Its a cat maybe");
    assertThat(SiglipCaptionTokenizer.lowerCase("İSTANBUL ΟΔΟΣ")).isEqualTo("i\u0307stanbul οδοσ");
  }

  @Test
  void aFileThatIsNoModelOrNotSiglipsIsNamed() throws IOException {
    Path garbage = Files.write(dir.resolve("garbage.model"), new byte[] {1, 2, 3, 4, 5, 6, 7});
    CaptionTokenizer.TokenizerSettings none = new CaptionTokenizer.TokenizerSettings(null, null);
    assertThatThrownBy(() -> SiglipCaptionTokenizer.open(garbage, 64, none))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("garbage.model is not a SentencePiece model");
    Path noEos = dir.resolve("no-eos.model");
    SentencePieceModelFile.write(noEos, List.of("<unk>"), List.of("a", "cat"));
    assertThatThrownBy(() -> SiglipCaptionTokenizer.open(noEos, 64, none))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no-eos.model has no piece </s>");
  }

  /**
   * Against Hugging Face's {@code SiglipTokenizer} steps run by Python's SentencePiece over a model
   * trained as T5's and SigLIP's were (unigram, nmt_nfkc normalisation): handwritten tricky
   * captions and random ones mixing words, case, punctuation, Unicode whitespace, compatibility
   * characters, unknown characters and special tokens, at two lengths.
   */
  @Test
  void matchesHuggingFacesSiglipTokenizer() throws Exception {
    String python =
        Python.with("sentencepiece, google.protobuf", "python3-sentencepiece python3-protobuf");
    Path script = dir.resolve("siglip_spiece.py");
    try (InputStream in = getClass().getResourceAsStream("/siglip/siglip_spiece.py")) {
      Files.copy(in, script);
    }
    Random random = new Random(20261126);
    List<String> corpus = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      StringBuilder line = new StringBuilder();
      for (int w = 0, n = 3 + random.nextInt(10); w < n; w++) {
        line.append(w == 0 ? "" : " ").append(WORDS.get(random.nextInt(WORDS.size())));
      }
      corpus.add(line.toString());
    }
    Path corpusFile = Files.write(dir.resolve("corpus.txt"), corpus);
    Python.run(
        List.of(
            python,
            script.toString(),
            "train",
            dir.resolve("spiece").toString(),
            corpusFile.toString()));
    Path model = dir.resolve("spiece.model");

    List<String> captions =
        new ArrayList<>(
            List.of(
                "A photo of a cat.",
                "  Two   DOGS,\tplaying!\n",
                "ÉCOLE Café NAÏVE",
                "\ufb01ne ½ ＡＢＣ ﬀ ligatures",
                "non\u00a0breaking\u3000space and\u2007figure\u0085next",
                "emoji 🐱 and 漢字 are unknown",
                "ends with </s>",
                "</s> starts with one",
                "middle <unk> token   here",
                "</S> upper-case special",
                "<pad> is not special",
                "already \u2581 underlined \u2581x\u2581",
                "ΣΑΣ ΟΔΟΣ İstanbul",
                "zero\u200bwidth",
                "",
                "!!!",
                "</s>",
                "a</s></s>b",
                String.join(" ", Collections.nCopies(80, "a photo of the sky"))));
    String[] pool = {
      "a",
      "Photo",
      "OF",
      "the",
      "cat",
      "dog",
      "Sitting",
      "café",
      "NAÏVE",
      "école",
      "house",
      "trees",
      "unknownword",
      "x",
      ",",
      ".",
      "!",
      "'s",
      "\"",
      "(",
      ")",
      "-",
      "--",
      "_",
      "@",
      "#1",
      "42",
      "</s>",
      "<unk>",
      "</S>",
      "<pad>",
      "\u2581",
      "🐱",
      "漢",
      "Σ",
      "İ",
      "ﬁ",
      "½",
      "Ａ",
      "\u00e9",
      "e\u0301"
    };
    String[] spaces = {" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2007", "\u0085", ""};
    for (int i = 0; i < 300; i++) {
      StringBuilder caption = new StringBuilder();
      for (int t = 0, n = random.nextInt(16); t < n; t++) {
        caption
            .append(spaces[random.nextInt(spaces.length)])
            .append(pool[random.nextInt(pool.length)]);
      }
      captions.add(caption.toString());
    }
    Path captionsFile = dir.resolve("captions.json");
    JSON.writeValue(captionsFile.toFile(), captions);

    for (int maxTokens : new int[] {64, 8}) {
      String output =
          Python.run(
              List.of(
                  python,
                  script.toString(),
                  "encode",
                  model.toString(),
                  captionsFile.toString(),
                  String.valueOf(maxTokens)));
      List<List<Integer>> expected = JSON.readValue(output.strip(), new TypeReference<>() {});
      assertThat(expected).hasSize(captions.size());
      try (SiglipCaptionTokenizer tokenizer =
          SiglipCaptionTokenizer.open(
              model, maxTokens, new CaptionTokenizer.TokenizerSettings(null, null))) {
        for (int i = 0; i < captions.size(); i++) {
          assertThat(tokenizer.encode(captions.get(i)))
              .as(
                  "caption %d %s at %d tokens",
                  i, JSON.writeValueAsString(captions.get(i)), maxTokens)
              .containsExactly(expected.get(i).stream().mapToInt(Integer::intValue).toArray());
        }
      }
    }
  }
}
