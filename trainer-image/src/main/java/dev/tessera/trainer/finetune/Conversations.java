package dev.tessera.trainer.finetune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.model.text.ChatTemplate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Fine-tuning data in LLaVA's format, as LLaVA-665k and MAmmoTH-VL publish it: a JSON array of
 * examples, each an image path (relative to an image folder; absent for text-only examples) and
 * turns alternating human and gpt:
 *
 * <pre>{@code
 * [{"id": "000000033471", "image": "coco/train2017/000000033471.jpg",
 *   "conversations": [{"from": "human", "value": "<image>\nWhat are the colors of the bus?"},
 *                     {"from": "gpt", "value": "The bus is white and red."}, ...]}, ...]
 * }</pre>
 *
 * Roles {@code human}/{@code user} and {@code gpt}/{@code assistant} are accepted. Problems are
 * reported with the example's position and id: a malformed file fails as a whole, before training.
 */
public final class Conversations {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Conversations() {}

  /**
   * One example.
   *
   * @param id the example's id (or its position when it has none)
   * @param image the image file, resolved against the image folder, or {@code null}
   * @param turns user and assistant turns, alternating, user first
   */
  public record Conversation(String id, Path image, List<ChatTemplate.Turn> turns) {}

  /**
   * Reads every example of {@code file}; images are resolved against {@code imageFolder} and must
   * exist.
   *
   * @throws IOException naming the file, the example and the problem
   */
  public static List<Conversation> read(Path file, Path imageFolder) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new IOException(file + " is not valid JSON: " + e.getMessage(), e);
    }
    if (!root.isArray()) {
      throw new IOException(file + " must hold a JSON array of conversations");
    }
    List<Conversation> conversations = new ArrayList<>(root.size());
    for (int i = 0; i < root.size(); i++) {
      JsonNode example = root.get(i);
      String id = example.hasNonNull("id") ? example.get("id").asText() : "#" + i;
      String where = file + ": example " + i + " (id " + id + ")";
      Path image = null;
      if (example.hasNonNull("image")) {
        image = imageFolder.resolve(example.get("image").asText()).normalize();
        if (!Files.isRegularFile(image)) {
          throw new IOException(where + ": image " + image + " does not exist");
        }
      }
      JsonNode turns = example.path("conversations");
      if (!turns.isArray() || turns.isEmpty()) {
        throw new IOException(where + ": no conversations");
      }
      List<ChatTemplate.Turn> parsed = new ArrayList<>();
      int images = 0;
      for (int t = 0; t < turns.size(); t++) {
        JsonNode turn = turns.get(t);
        ChatTemplate.Role role = role(turn.path("from").asText(""), where + " turn " + t);
        ChatTemplate.Role expected =
            t % 2 == 0 ? ChatTemplate.Role.USER : ChatTemplate.Role.ASSISTANT;
        if (role != expected) {
          throw new IOException(
              where
                  + " turn "
                  + t
                  + ": expected a "
                  + expected.name().toLowerCase(Locale.ROOT)
                  + " turn (turns alternate, human first)");
        }
        if (!turn.path("value").isTextual()) {
          throw new IOException(where + " turn " + t + ": no text value");
        }
        String text = turn.get("value").asText();
        images += count(text, "<image>");
        parsed.add(new ChatTemplate.Turn(role, text));
      }
      if (parsed.size() % 2 != 0) {
        throw new IOException(where + ": ends with a human turn that has no answer");
      }
      if (image != null && images != 1) {
        throw new IOException(
            where + ": has an image but " + images + " <image> markers (one expected)");
      }
      if (image == null && images != 0) {
        throw new IOException(where + ": has <image> markers but no image");
      }
      conversations.add(new Conversation(id, image, parsed));
    }
    return conversations;
  }

  private static ChatTemplate.Role role(String from, String where) throws IOException {
    return switch (from.toLowerCase(Locale.ROOT)) {
      case "human", "user" -> ChatTemplate.Role.USER;
      case "gpt", "assistant" -> ChatTemplate.Role.ASSISTANT;
      default -> throw new IOException(where + ": unknown speaker '" + from + "'");
    };
  }

  private static int count(String text, String marker) {
    int count = 0;
    for (int at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + marker.length())) {
      count++;
    }
    return count;
  }
}
