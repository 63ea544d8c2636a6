package dev.tessera.model.vlm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.text.CaptionLayout;
import dev.tessera.model.text.ChatTemplate;
import dev.tessera.model.text.ChatTemplate.Role;
import dev.tessera.model.text.ChatTemplate.Turn;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.text.QwenTokenizerFiles;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ConversationBatchTest {
  private static QwenTokenizer tokenizer;
  private static ChatTemplate template;
  private static int pad;

  @BeforeAll
  static void load() throws IOException {
    tokenizer = QwenTokenizer.load(QwenTokenizerFiles.tokenizerJson());
    template = new ChatTemplate(tokenizer, ChatTemplate.ImageQuirk.FIXED);
    pad = tokenizer.specialId(QwenTokenizer.END_OF_TEXT);
  }

  private static CaptionLayout.Sample withImage() {
    return template.conversation(
        List.of(
            new Turn(Role.USER, "<image>\nWhat colour is the square?"),
            new Turn(Role.ASSISTANT, "Red."),
            new Turn(Role.USER, "And the circle?"),
            new Turn(Role.ASSISTANT, "Blue, mostly.")));
  }

  private static CaptionLayout.Sample textOnly() {
    return template.conversation(
        List.of(new Turn(Role.USER, "Say hi."), new Turn(Role.ASSISTANT, "Hi.")));
  }

  @Test
  void targetsAreTheAssistantTurnsOnly() {
    ConversationBatch packed = ConversationBatch.of(List.of(withImage(), textOnly()), 9, pad, 4096);
    Qwen2Batch batch = packed.batch();
    assertThat(batch.rows()).isEqualTo(2);
    assertThat(packed.images()).isEqualTo(1);

    List<Long> row0 = new ArrayList<>();
    List<Long> row1 = new ArrayList<>();
    int visual = 0;
    for (int p = 0; p < batch.tokens(); p++) {
      if (batch.targets()[p] != CrossEntropy.IGNORE_INDEX) {
        row0.add((long) batch.targets()[p]);
      }
      int q = batch.tokens() + p;
      if (batch.targets()[q] != CrossEntropy.IGNORE_INDEX) {
        row1.add((long) batch.targets()[q]);
      }
      visual += batch.useEmbeds()[p] ? 1 : 0;
      assertThat(batch.useEmbeds()[q]).isFalse();
    }
    assertThat(visual).isEqualTo(9);
    assertThat(tokenizer.decode(row0.stream().mapToLong(Long::longValue).toArray()))
        .isEqualTo("Red.<|im_end|>\nBlue, mostly.<|im_end|>\n");
    assertThat(tokenizer.decode(row1.stream().mapToLong(Long::longValue).toArray()))
        .isEqualTo("Hi.<|im_end|>\n");
    assertThat(packed.targets()).isEqualTo(row0.size() + row1.size());
    assertThat(packed.realTokens())
        .isEqualTo(withImage().ids().length - 1 + 9 + textOnly().ids().length);
    // The shorter row is padded, without targets.
    int shortLength = textOnly().ids().length;
    for (int p = shortLength; p < batch.tokens(); p++) {
      assertThat(batch.ids()[batch.tokens() + p]).isEqualTo(pad);
    }
  }

  @Test
  void longExamplesAreCutAtTheEndButNeverThroughTheirImage() {
    CaptionLayout.Sample example = withImage();
    int full = example.ids().length - 1 + 9;
    ConversationBatch cut = ConversationBatch.of(List.of(example), 9, pad, full - 3);
    assertThat(cut.truncated()).isEqualTo(1);
    assertThat(cut.batch().tokens()).isEqualTo(full - 3);
    assertThatThrownBy(() -> ConversationBatch.of(List.of(example), 9, pad, 5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("its image ends past --max-length 5");
  }
}
