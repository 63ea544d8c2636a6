package dev.tessera.data.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Write-then-rename: every output file is first written under a temporary name next to its target
 * and renamed into place only when complete, so a reader never sees half a file and a killed writer
 * leaves nothing that looks finished.
 */
public final class AtomicFiles {
  /** Suffix of files that are still being written. Readers skip them; rerunning overwrites them. */
  public static final String IN_PROGRESS_SUFFIX = ".partial";

  private AtomicFiles() {}

  /** The temporary sibling that {@code target} is written to before {@link #commit}. */
  public static Path inProgress(Path target) {
    return target.resolveSibling(target.getFileName() + IN_PROGRESS_SUFFIX);
  }

  /** Flushes {@code written} to disk and renames it to {@code target}, replacing what was there. */
  public static void commit(Path written, Path target) throws IOException {
    try (FileChannel channel = FileChannel.open(written, StandardOpenOption.WRITE)) {
      channel.force(true);
    }
    try {
      Files.move(
          written, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(written, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Writes {@code content} to {@code target} atomically. */
  public static void write(Path target, byte[] content) throws IOException {
    Path parent = target.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Path temporary = inProgress(target);
    Files.write(temporary, content);
    commit(temporary, target);
  }

  /**
   * Removes {@code path} and, for a directory, everything below it (work directories of finished
   * runs, abandoned partial outputs); nothing happens when it does not exist.
   */
  public static void deleteRecursively(Path path) throws IOException {
    if (!Files.exists(path)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(path)) {
      for (Path each : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(each);
      }
    }
  }
}
