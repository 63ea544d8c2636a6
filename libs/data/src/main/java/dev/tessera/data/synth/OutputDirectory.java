package dev.tessera.data.synth;

import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.manifest.ShardManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checks and clears the output directory. A directory is used only when it is new, empty, or holds
 * exactly an earlier synth run (its manifest says {@code "command": "synth"} and there is nothing
 * but shards and the manifest), so a typo in {@code --out} never deletes other data.
 */
public final class OutputDirectory {
  private static final Pattern OWN_FILE =
      Pattern.compile(
          "(\\d{5}\\.tar|"
              + Pattern.quote(ShardManifest.FILE_NAME)
              + ")("
              + Pattern.quote(AtomicFiles.IN_PROGRESS_SUFFIX)
              + ")?");

  private OutputDirectory() {}

  /**
   * Throws {@link IllegalArgumentException} naming the problem when {@code dir} cannot be used;
   * changes nothing.
   */
  public static void check(Path dir) throws IOException {
    ownFiles(dir);
  }

  /** Checks {@code dir} as {@link #check} does, then deletes an earlier run's files in it. */
  static void prepare(Path dir) throws IOException {
    for (Path file : ownFiles(dir)) {
      Files.delete(file);
    }
  }

  private static List<Path> ownFiles(Path dir) throws IOException {
    List<Path> files = new ArrayList<>();
    if (!Files.exists(dir)) {
      return files;
    }
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("output " + dir + " exists and is not a directory");
    }
    try (Stream<Path> entries = Files.list(dir)) {
      for (Path entry : (Iterable<Path>) entries.sorted()::iterator) {
        if (!Files.isRegularFile(entry)
            || !OWN_FILE.matcher(entry.getFileName().toString()).matches()) {
          throw notOurs(dir, "it holds '" + entry.getFileName() + "'");
        }
        files.add(entry);
      }
    }
    if (!files.isEmpty() && !isSynthManifest(dir.resolve(ShardManifest.FILE_NAME))) {
      throw notOurs(dir, "it has no manifest.json from an earlier synth run");
    }
    return files;
  }

  private static boolean isSynthManifest(Path file) {
    if (!Files.isRegularFile(file)) {
      return false;
    }
    try {
      ShardManifest manifest = ShardManifest.read(file);
      return manifest.spec() != null && "synth".equals(manifest.spec().get("command"));
    } catch (IOException e) {
      return false;
    }
  }

  private static IllegalArgumentException notOurs(Path dir, String why) {
    return new IllegalArgumentException(
        "output directory "
            + dir
            + " is not empty and not an earlier synth output ("
            + why
            + "); choose a new or empty directory");
  }
}
