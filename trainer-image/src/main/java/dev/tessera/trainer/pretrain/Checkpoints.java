package dev.tessera.trainer.pretrain;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.io.Sha256;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The checkpoints of a run: {@code RUN/checkpoints/step-NNNNNNNN/}, each holding its files and a
 * {@code manifest.json} (sizes and SHA-256 of every file) written last. A step is written into
 * {@code step-NNNNNNNN.partial/} and the directory renamed when its manifest is in place, so a
 * checkpoint that exists is complete; one whose files do not match its manifest (a damaged disk, a
 * file edited by hand) is skipped with a warning in favour of the one before.
 */
public final class Checkpoints {
  static final String MANIFEST = "manifest.json";
  private static final String PREFIX = "step-";
  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  /** One file of a checkpoint. */
  @JsonPropertyOrder({"name", "bytes", "sha256"})
  public record FileEntry(String name, long bytes, String sha256) {}

  /** A checkpoint's manifest. */
  @JsonPropertyOrder({"formatVersion", "step", "files"})
  public record Manifest(int formatVersion, long step, List<FileEntry> files) {}

  private final Path dir;

  public Checkpoints(Path runDir) {
    this.dir = runDir.resolve("checkpoints");
  }

  public Path dir() {
    return dir;
  }

  /** The directory of step {@code step}. */
  public Path stepDir(long step) {
    return dir.resolve(String.format(Locale.ROOT, PREFIX + "%08d", step));
  }

  /**
   * Writes a checkpoint: {@code writer} fills a fresh {@code .partial} directory, then the manifest
   * is computed and written and the directory renamed into place.
   */
  public Path write(long step, FileWriter writer) throws IOException {
    Path target = stepDir(step);
    Path partial = target.resolveSibling(target.getFileName() + AtomicFiles.IN_PROGRESS_SUFFIX);
    AtomicFiles.deleteRecursively(partial);
    Files.createDirectories(partial);
    writer.write(partial);
    List<FileEntry> files = new ArrayList<>();
    try (Stream<Path> listing = Files.list(partial)) {
      for (Path file : listing.sorted().toList()) {
        files.add(
            new FileEntry(file.getFileName().toString(), Files.size(file), Sha256.ofFile(file)));
      }
    }
    AtomicFiles.write(
        partial.resolve(MANIFEST), JSON.writeValueAsBytes(new Manifest(1, step, files)));
    AtomicFiles.deleteRecursively(target);
    Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
    return target;
  }

  /** Fills a checkpoint directory. */
  @FunctionalInterface
  public interface FileWriter {
    void write(Path directory) throws IOException;
  }

  /**
   * The newest checkpoint whose files match its manifest; damaged or incomplete ones are reported
   * to {@code log} and passed over.
   */
  public Optional<Path> latestValid(PrintWriter log) throws IOException {
    List<Path> steps = list();
    for (int i = steps.size() - 1; i >= 0; i--) {
      Path step = steps.get(i);
      String problem = problem(step);
      if (problem == null) {
        return Optional.of(step);
      }
      log.println("warning: skipping checkpoint " + step.getFileName() + ": " + problem);
      log.flush();
    }
    return Optional.empty();
  }

  /**
   * The checkpoint with the lowest held-out loss that the run kept with {@code --keep-best}, as the
   * newest valid checkpoint's trainer state names it, checked against its manifest.
   *
   * @throws IllegalArgumentException when the run has no valid checkpoint, kept no best one, or its
   *     best one is gone or damaged
   */
  public Path bestValid(PrintWriter log) throws IOException {
    Path latest =
        latestValid(log)
            .orElseThrow(() -> new IllegalArgumentException("no valid checkpoint in " + dir));
    long best = JSON.readTree(latest.resolve(Pretrainer.STATE).toFile()).path("bestStep").asLong();
    if (best <= 0) {
      throw new IllegalArgumentException(
          dir.getParent()
              + " kept no best checkpoint: it was not trained with --keep-best"
              + " (checkpoints.keepBest)");
    }
    Path step = stepDir(best);
    String problem = problem(step);
    if (problem != null) {
      throw new IllegalArgumentException(
          "the best checkpoint " + step + " cannot be used: " + problem);
    }
    return step;
  }

  /**
   * The checkpoints whose files match their manifests, oldest first; the others are reported to
   * {@code log} and passed over.
   */
  public List<Path> verified(PrintWriter log) throws IOException {
    List<Path> verified = new ArrayList<>();
    for (Path step : list()) {
      String problem = problem(step);
      if (problem == null) {
        verified.add(step);
      } else {
        log.println("warning: skipping checkpoint " + step.getFileName() + ": " + problem);
        log.flush();
      }
    }
    return verified;
  }

  /** Why {@code step} cannot be used, or {@code null} when its files match its manifest. */
  static String problem(Path step) {
    Path manifestFile = step.resolve(MANIFEST);
    if (!Files.isRegularFile(manifestFile)) {
      return "no manifest";
    }
    try {
      Manifest manifest = JSON.readValue(manifestFile.toFile(), Manifest.class);
      for (FileEntry entry : manifest.files()) {
        Path file = step.resolve(entry.name());
        if (!Files.isRegularFile(file)) {
          return entry.name() + " is missing";
        }
        if (Files.size(file) != entry.bytes() || !Sha256.ofFile(file).equals(entry.sha256())) {
          return entry.name() + " does not match its checksum";
        }
      }
      return null;
    } catch (IOException | RuntimeException e) {
      return "unreadable manifest (" + e.getMessage() + ")";
    }
  }

  /** Committed checkpoint directories, oldest first. */
  public List<Path> list() throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> listing = Files.list(dir)) {
      return listing
          .filter(Files::isDirectory)
          .filter(path -> path.getFileName().toString().matches(PREFIX + "\\d{8}"))
          .sorted(Comparator.comparing(path -> path.getFileName().toString()))
          .toList();
    }
  }

  private static long stepOf(Path checkpoint) {
    return Long.parseLong(checkpoint.getFileName().toString().substring(PREFIX.length()));
  }

  /**
   * After the checkpoint of step {@code current}: removes checkpoints of later steps (left from
   * before the run resumed at an earlier one, or never completed), leftover partial ones, and all
   * but the newest {@code keep} and the one of step {@code best} (0 for none).
   */
  public void prune(int keep, long current, long best) throws IOException {
    List<Path> kept = new ArrayList<>();
    for (Path step : list()) {
      long number = stepOf(step);
      if (number > current) {
        AtomicFiles.deleteRecursively(step);
      } else {
        kept.add(step);
      }
    }
    for (int i = 0; i < kept.size() - keep; i++) {
      if (stepOf(kept.get(i)) != best) {
        AtomicFiles.deleteRecursively(kept.get(i));
      }
    }
    try (Stream<Path> listing = Files.list(dir)) {
      for (Path path : listing.toList()) {
        if (path.getFileName().toString().endsWith(AtomicFiles.IN_PROGRESS_SUFFIX)) {
          AtomicFiles.deleteRecursively(path);
        }
      }
    }
  }
}
