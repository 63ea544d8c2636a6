package dev.tessera.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.api.v1alpha1.TesseraStatus;
import dev.tessera.data.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What ran on a volume, in the resources' own shape: {@code VOLUME/.tessera/state.json} holds, per
 * {@code Kind/name}, the spec it ran with and its status (phase, conditions, progress, checkpoints)
 * as the operator would write it. Rewritten atomically after every change, so a killed run leaves
 * the last state whole.
 */
public final class LocalState {
  static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .build();

  /** One resource's record. */
  public record Entry(JsonNode spec, TesseraStatus status) {}

  private final Path file;
  private final Map<String, Entry> entries = new LinkedHashMap<>();

  private LocalState(Path file) {
    this.file = file;
  }

  public static Path fileOf(Path volume) {
    return volume.resolve(".tessera").resolve("state.json");
  }

  /** The state of a volume on which nothing ran; not read from, nor written to, its file. */
  public static LocalState empty(Path volume) {
    return new LocalState(fileOf(volume));
  }

  /** The state of {@code volume}; empty when nothing ran there. */
  public static LocalState open(Path volume) throws IOException {
    LocalState state = new LocalState(fileOf(volume));
    if (Files.exists(state.file)) {
      JsonNode root;
      try {
        root = JSON.readTree(state.file.toFile());
      } catch (IOException e) {
        throw new PipelineError(
            state.file
                + ": unreadable state file ("
                + e.getMessage()
                + "); move it away to start afresh");
      }
      root.path("resources")
          .properties()
          .forEach(
              e -> {
                try {
                  state.entries.put(
                      e.getKey(),
                      new Entry(
                          e.getValue().path("spec"),
                          JSON.treeToValue(e.getValue().path("status"), TesseraStatus.class)));
                } catch (IOException ex) {
                  throw new PipelineError(
                      state.file
                          + ": "
                          + e.getKey()
                          + ": unreadable status ("
                          + ex.getMessage()
                          + ")");
                }
              });
    }
    return state;
  }

  public Entry get(String id) {
    return entries.get(id);
  }

  public Map<String, Entry> entries() {
    return entries;
  }

  public synchronized void put(String id, JsonNode spec, TesseraStatus status) throws IOException {
    entries.put(id, new Entry(spec, status));
    save();
  }

  /** Forgets what ran of resource {@code id} (nothing when nothing did). */
  public synchronized void remove(String id) throws IOException {
    if (entries.remove(id) != null) {
      save();
    }
  }

  private void save() throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", 1);
    ObjectNode resources = root.putObject("resources");
    entries.forEach(
        (key, entry) -> {
          ObjectNode node = resources.putObject(key);
          node.set("spec", entry.spec());
          node.set("status", JSON.valueToTree(entry.status()));
        });
    Files.createDirectories(file.getParent());
    AtomicFiles.write(file, JSON.writeValueAsBytes(root));
  }
}
