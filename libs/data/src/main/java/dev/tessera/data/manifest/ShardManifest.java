package dev.tessera.data.manifest;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.io.Sha256;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Describes a set of shards in one directory: what they hold and how to check them. A stage's
 * output exists only once its manifest is written (atomically, last); readers trust the manifest's
 * checksums, not the directory listing.
 *
 * @param formatVersion version of this manifest layout ({@link #FORMAT_VERSION})
 * @param kind what the shards hold, e.g. {@code "webdataset"}
 * @param shardCount number of shards
 * @param samples total samples over all shards
 * @param bytes total bytes over all shards
 * @param layout what a reader must know about the content beyond its kind (packed shards: sequence
 *     length, token ids of padding and images, ...); {@code null} for plain WebDataset shards
 * @param spec how the shards were produced (command and parameters), for lineage
 * @param shards one entry per shard, in order
 */
@JsonPropertyOrder({
  "formatVersion",
  "kind",
  "shardCount",
  "samples",
  "bytes",
  "layout",
  "spec",
  "shards"
})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ShardManifest(
    int formatVersion,
    String kind,
    int shardCount,
    long samples,
    long bytes,
    Map<String, Object> layout,
    Map<String, Object> spec,
    List<Shard> shards) {

  public static final int FORMAT_VERSION = 1;
  public static final String FILE_NAME = "manifest.json";
  public static final String KIND_WEBDATASET = "webdataset";
  public static final String KIND_PACKED = "tessera-packed";

  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .build();

  /**
   * One shard file.
   *
   * @param name file name relative to the manifest's directory
   * @param samples samples in the shard (sequences, for packed shards)
   * @param bytes file size
   * @param sha256 hex SHA-256 of the file
   * @param index the shard's random-access index, for kinds that have one; otherwise {@code null}
   */
  @JsonPropertyOrder({"name", "samples", "bytes", "sha256", "index"})
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Shard(String name, long samples, long bytes, String sha256, File index) {
    public Shard {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(sha256, "sha256");
    }

    /** A shard without an index file. */
    public Shard(String name, long samples, long bytes, String sha256) {
      this(name, samples, bytes, sha256, null);
    }
  }

  /**
   * A file that travels with a shard.
   *
   * @param name file name relative to the manifest's directory
   * @param bytes file size
   * @param sha256 hex SHA-256 of the file
   */
  @JsonPropertyOrder({"name", "bytes", "sha256"})
  public record File(String name, long bytes, String sha256) {
    public File {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(sha256, "sha256");
    }
  }

  public ShardManifest {
    Objects.requireNonNull(kind, "kind");
    shards = List.copyOf(shards);
    layout = layout == null ? null : new TreeMap<>(layout);
    spec = spec == null ? null : new TreeMap<>(spec);
  }

  /** A manifest over {@code shards} with totals computed from them. */
  public static ShardManifest of(String kind, Map<String, Object> spec, List<Shard> shards) {
    return of(kind, null, spec, shards);
  }

  /** A manifest with a content layout, totals computed from the shards. */
  public static ShardManifest of(
      String kind, Map<String, Object> layout, Map<String, Object> spec, List<Shard> shards) {
    long samples = shards.stream().mapToLong(Shard::samples).sum();
    long bytes = shards.stream().mapToLong(Shard::bytes).sum();
    return new ShardManifest(
        FORMAT_VERSION, kind, shards.size(), samples, bytes, layout, spec, shards);
  }

  public byte[] toJson() {
    try {
      return JSON.writeValueAsBytes(this);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes {@code dir/manifest.json} atomically. */
  public Path write(Path dir) throws IOException {
    Path file = dir.resolve(FILE_NAME);
    AtomicFiles.write(file, toJson());
    return file;
  }

  /**
   * Reads a manifest from a file or from {@code manifest.json} inside a directory.
   *
   * @throws IOException when it is missing, not JSON, or of an unknown format version
   */
  public static ShardManifest read(Path fileOrDir) throws IOException {
    Path file = Files.isDirectory(fileOrDir) ? fileOrDir.resolve(FILE_NAME) : fileOrDir;
    ShardManifest manifest;
    try {
      manifest = JSON.readValue(file.toFile(), ShardManifest.class);
    } catch (NoSuchFileException | java.io.FileNotFoundException e) {
      throw new NoSuchFileException(file.toString(), null, "no shard manifest");
    } catch (IOException | IllegalArgumentException | NullPointerException e) {
      throw new IOException("invalid shard manifest " + file + ": " + e.getMessage(), e);
    }
    if (manifest.formatVersion() < 1 || manifest.formatVersion() > FORMAT_VERSION) {
      throw new IOException(
          "shard manifest "
              + file
              + " has format version "
              + manifest.formatVersion()
              + "; this build reads versions 1.."
              + FORMAT_VERSION);
    }
    return manifest;
  }

  /**
   * Checks every shard in {@code dir} against this manifest: present, same size, same SHA-256.
   *
   * @return one line per problem, empty when all shards match
   */
  public List<String> verify(Path dir) throws IOException {
    List<String> problems = new ArrayList<>();
    for (Shard shard : shards) {
      verifyFile(dir, new File(shard.name(), shard.bytes(), shard.sha256()), problems);
      if (shard.index() != null) {
        verifyFile(dir, shard.index(), problems);
      }
    }
    return problems;
  }

  private static void verifyFile(Path dir, File expected, List<String> problems)
      throws IOException {
    Path file = dir.resolve(expected.name());
    if (!Files.isRegularFile(file)) {
      problems.add(expected.name() + ": missing");
      return;
    }
    long size = Files.size(file);
    if (size != expected.bytes()) {
      problems.add(expected.name() + ": " + size + " bytes, manifest says " + expected.bytes());
      return;
    }
    String sha = Sha256.ofFile(file);
    if (!sha.equals(expected.sha256())) {
      problems.add(expected.name() + ": sha256 " + sha + ", manifest says " + expected.sha256());
    }
  }
}
