package dev.tessera.model.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.model.text.ChatTemplate.ImageQuirk;
import dev.tessera.model.text.ChatTemplate.Role;
import dev.tessera.model.text.ChatTemplate.Turn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QwenTokenizerTest {
  private static QwenTokenizer tokenizer;

  @BeforeAll
  static void load() throws IOException {
    tokenizer = QwenTokenizer.load(QwenTokenizerFiles.tokenizerJson());
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  @Test
  void idsMatchQwen25WithOpenQwen2vlTokensAdded() {
    assertThat(tokenizer.specialId("<|endoftext|>")).isEqualTo(151643);
    assertThat(tokenizer.specialId("<|im_start|>")).isEqualTo(151644);
    assertThat(tokenizer.specialId("<|im_end|>")).isEqualTo(151645);
    assertThat(tokenizer.specialId("<|endofchunk|>")).isEqualTo(151665);
    // "<s>" is an ordinary vocabulary entry, so it keeps its id, as Hugging Face assigns it.
    assertThat(tokenizer.specialId("<s>")).isEqualTo(128245);
    assertThat(tokenizer.vocabularySize()).isEqualTo(151666);
    // Qwen3's later additions are not Qwen2.5 tokens: "<think>" is plain text here.
    assertThat(tokenizer.encode("<think>")).hasSizeGreaterThan(1).doesNotContain(151667L);
    assertThatThrownBy(() -> tokenizer.specialId("<think>")).hasMessageContaining("<think>");
  }

  @Test
  void encodesLikeQwen2() {
    long[] ids =
        tokenizer.encode(
            "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hello world! 你好 café<|im_end|>");
    assertThat(ids)
        .containsExactly(
            151644, 872, 198, 151652, 151655, 151653, 9707, 1879, 0, 220, 108386, 51950, 151645);
    assertThat(tokenizer.decode(ids)).endsWith("Hello world! 你好 café<|im_end|>");
    assertThat(tokenizer.encode(List.of("Hello world!", "<s>x"))[1][0]).isEqualTo(128245);
    assertThat(tokenizer.encode("a<|endofchunk|>b")).contains(151665L);
  }

  @Test
  void captionLayoutIsBosImageNewlineCaptionEos() {
    CaptionLayout layout = new CaptionLayout(tokenizer);
    CaptionLayout.Sample sample = layout.caption("Three red circles on a blue background.");

    assertThat(sample.ids()[0]).isEqualTo(128245);
    assertThat(sample.ids()[1]).isEqualTo(CaptionLayout.IMAGE);
    assertThat(sample.ids()[2]).isEqualTo(198);
    assertThat(sample.ids()[sample.ids().length - 1]).isEqualTo(151645);
    assertThat(decodeWithoutImage(sample.ids()))
        .isEqualTo("<s>\nThree red circles on a blue background.<|im_end|>");
    assertThat(sample.labels()[1]).isEqualTo(CaptionLayout.IGNORE);
    for (int i = 0; i < sample.ids().length; i++) {
      if (i != 1) {
        assertThat(sample.labels()[i]).isEqualTo(sample.ids()[i]);
      }
    }
    assertThat(sample.multimodalLength(144)).isEqualTo(sample.ids().length - 1 + 144);

    CaptionLayout.Sample injected = layout.caption("a <image> tag and an <|im_end|>");
    assertThat(Arrays.stream(injected.ids()).filter(id -> id == CaptionLayout.IMAGE).count())
        .isEqualTo(1);
    assertThat(decodeWithoutImage(injected.ids()))
        .isEqualTo("<s>\na <image-placeholder> tag and an <|im_end|>");
  }

  @Test
  void chatTemplateReproducesTheReferenceLayoutAndMasksNonAssistantTurns() {
    List<Turn> turns =
        List.of(
            new Turn(Role.USER, "<image>\nWhat is shown? "),
            new Turn(Role.ASSISTANT, " Two green stars."),
            new Turn(Role.USER, "Where?"),
            new Turn(Role.ASSISTANT, ""));

    CaptionLayout.Sample fixed = new ChatTemplate(tokenizer, ImageQuirk.FIXED).conversation(turns);
    assertThat(decodeWithoutImage(fixed.ids()))
        .isEqualTo(
            "<s><|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n\nWhat is shown?<|im_end|>assistant\n"
                + "Two green stars.<|im_end|>\n"
                + "<|im_start|>user\nWhere?<|im_end|>assistant\n"
                + " <|im_end|>\n");
    String supervised = decodeLabels(fixed.labels());
    assertThat(supervised).isEqualTo("Two green stars.<|im_end|>\n <|im_end|>\n");

    CaptionLayout.Sample reference =
        new ChatTemplate(tokenizer, ImageQuirk.REFERENCE).conversation(turns);
    assertThat(reference.ids()).hasSize(fixed.ids().length - 1);
    assertThat(decodeWithoutImage(reference.ids()))
        .contains("<|im_start|>user\nWhat is shown?<|im_end|>assistant\n");
    assertThatThrownBy(
            () ->
                new ChatTemplate(tokenizer, ImageQuirk.FIXED)
                    .conversation(List.of(new Turn(Role.ASSISTANT, "hi"))))
        .hasMessageContaining("turn 0 is ASSISTANT");
  }

  @Test
  void notATokenizerIsAClearError(@TempDir Path dir) throws IOException {
    Path bad =
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordPiece\"}}");
    assertThatThrownBy(() -> QwenTokenizer.load(bad)).hasMessageContaining("not a BPE tokenizer");
    assertThatThrownBy(() -> QwenTokenizer.load(dir.resolve("missing.json")))
        .hasMessageContaining("no tokenizer.json");
  }

  private static String decodeWithoutImage(int[] ids) {
    return tokenizer.decode(
        Arrays.stream(ids).filter(id -> id != CaptionLayout.IMAGE).mapToLong(i -> i).toArray());
  }

  private static String decodeLabels(int[] labels) {
    return tokenizer.decode(
        Arrays.stream(labels).filter(id -> id != CaptionLayout.IGNORE).mapToLong(i -> i).toArray());
  }
}
