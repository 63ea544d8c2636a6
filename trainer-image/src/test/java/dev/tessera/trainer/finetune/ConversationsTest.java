package dev.tessera.trainer.finetune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.model.text.ChatTemplate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConversationsTest {
  @TempDir Path dir;

  private Path json(String text) throws IOException {
    return Files.writeString(dir.resolve("data.json"), text);
  }

  @Test
  void readsLlavaFormatWithImagesAndTextOnlyExamples() throws IOException {
    Files.createDirectories(dir.resolve("images"));
    Files.write(dir.resolve("images/a.jpg"), new byte[] {1});
    Path file =
        json(
            """
            [{"id": "a", "image": "images/a.jpg", "conversations": [
               {"from": "human", "value": "<image>\\nWhat is it?"},
               {"from": "gpt", "value": "A square."},
               {"from": "human", "value": "Colour?"},
               {"from": "gpt", "value": "Red."}]},
             {"conversations": [{"from": "user", "value": "Hi"},
                                {"from": "assistant", "value": "Hello."}]}]
            """);
    List<Conversations.Conversation> read = Conversations.read(file, dir);
    assertThat(read).hasSize(2);
    assertThat(read.get(0).id()).isEqualTo("a");
    assertThat(read.get(0).image()).isEqualTo(dir.resolve("images/a.jpg"));
    assertThat(read.get(0).turns()).hasSize(4);
    assertThat(read.get(0).turns().get(3))
        .isEqualTo(new ChatTemplate.Turn(ChatTemplate.Role.ASSISTANT, "Red."));
    assertThat(read.get(1).id()).isEqualTo("#1");
    assertThat(read.get(1).image()).isNull();
  }

  @Test
  void problemsNameTheExample() throws IOException {
    assertThatThrownBy(() -> Conversations.read(json("{}"), dir))
        .hasMessageContaining("must hold a JSON array");
    assertThatThrownBy(
            () ->
                Conversations.read(
                    json(
                        "[{\"id\": \"x\", \"image\": \"missing.jpg\", \"conversations\":"
                            + " [{\"from\": \"human\", \"value\": \"<image>\"}, {\"from\":"
                            + " \"gpt\", \"value\": \"a\"}]}]"),
                    dir))
        .hasMessageContaining("example 0 (id x): image")
        .hasMessageContaining("does not exist");
    assertThatThrownBy(
            () ->
                Conversations.read(
                    json(
                        "[{\"conversations\": [{\"from\": \"gpt\", \"value\": \"a\"},"
                            + " {\"from\": \"human\", \"value\": \"b\"}]}]"),
                    dir))
        .hasMessageContaining("turn 0: expected a user turn");
    assertThatThrownBy(
            () ->
                Conversations.read(
                    json("[{\"conversations\": [{\"from\": \"robot\", \"value\": \"a\"}]}]"), dir))
        .hasMessageContaining("unknown speaker 'robot'");
    assertThatThrownBy(
            () ->
                Conversations.read(
                    json("[{\"conversations\": [{\"from\": \"human\", \"value\": \"a\"}]}]"), dir))
        .hasMessageContaining("no answer");
    assertThatThrownBy(
            () ->
                Conversations.read(
                    json(
                        "[{\"conversations\": [{\"from\": \"human\", \"value\": \"<image> a\"},"
                            + " {\"from\": \"gpt\", \"value\": \"b\"}]}]"),
                    dir))
        .hasMessageContaining("<image> markers but no image");
  }
}
