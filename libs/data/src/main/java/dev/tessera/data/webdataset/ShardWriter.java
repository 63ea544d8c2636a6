package dev.tessera.data.webdataset;

import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.io.Sha256;
import dev.tessera.data.manifest.ShardManifest;
import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes samples into numbered WebDataset tar shards ({@code 00000.tar, 00001.tar, ...}), starting
 * a new shard every {@code samplesPerShard} samples. Each shard is written as {@code
 * NNNNN.tar.partial} and renamed when complete; {@link #close()} finishes the last shard and {@link
 * #writeManifest} records all of them.
 *
 * <p>Members are written as {@code key.ext} with fixed owner, mode and time, so the same samples
 * always give the same bytes, and in PAX format, which Python's {@code tarfile} reads. Records are
 * 512 bytes (no padding to 10 KiB blocks), so every sample starts at a known byte offset ({@link
 * #write} returns it): a shard plus the offsets of its samples is randomly addressable.
 */
public final class ShardWriter implements AutoCloseable {

  /**
   * How shards are named and cut.
   *
   * @param samplesPerShard samples per shard before rolling over to the next
   * @param namePattern {@link String#format} pattern for a shard's file name from its index
   * @param firstIndex index of the first shard written
   * @param modificationTime member time stamp (seconds since the epoch), fixed for repeatability
   */
  public record Options(
      int samplesPerShard, String namePattern, int firstIndex, long modificationTime) {
    public Options {
      if (samplesPerShard < 1) {
        throw new IllegalArgumentException("samplesPerShard must be >= 1, got " + samplesPerShard);
      }
      Objects.requireNonNull(namePattern, "namePattern");
    }

    public static Options samplesPerShard(int samplesPerShard) {
      return new Options(samplesPerShard, "%05d.tar", 0, 0L);
    }

    public Options withFirstIndex(int index) {
      return new Options(samplesPerShard, namePattern, index, modificationTime);
    }
  }

  // Tar blocks of a single record: the stream flushes every record, so offsets are exact.
  private static final int RECORD_SIZE = 512;

  private final Path dir;
  private final Options options;
  private final List<ShardManifest.Shard> written = new ArrayList<>();

  private int nextIndex;
  private TarArchiveOutputStream tar;
  private CountingOutputStream counted;
  private MessageDigest digest;
  private Path currentTarget;
  private long samplesInCurrent;
  private boolean closed;

  public ShardWriter(Path dir, Options options) throws IOException {
    this.dir = Files.createDirectories(dir);
    this.options = options;
    this.nextIndex = options.firstIndex();
  }

  /**
   * Appends a sample, opening a new shard first when the current one is full.
   *
   * @return the byte offset in its shard of the sample's first tar header
   */
  public long write(Sample sample) throws IOException {
    if (closed) {
      throw new IllegalStateException("shard writer for " + dir + " is closed");
    }
    validateKey(sample.key());
    if (tar == null) {
      openNextShard();
    }
    long offset = position();
    for (Map.Entry<String, ByteBuffer> member : sample.buffers().entrySet()) {
      validateExtension(sample.key(), member.getKey());
      ByteBuffer bytes = member.getValue().duplicate();
      TarArchiveEntry entry = new TarArchiveEntry(sample.key() + "." + member.getKey());
      entry.setSize(bytes.remaining());
      entry.setMode(0100644);
      entry.setModTime(options.modificationTime() * 1000L);
      entry.setUserName("");
      entry.setGroupName("");
      tar.putArchiveEntry(entry);
      writeContent(bytes);
      tar.closeArchiveEntry();
    }
    samplesInCurrent++;
    if (samplesInCurrent == options.samplesPerShard()) {
      finishShard();
    }
    return offset;
  }

  /**
   * Bytes written to the current shard so far: the offset at which the next sample will start, or 0
   * when no shard is open. Exact between samples, because every member ends on a record.
   */
  public long position() {
    return tar == null ? 0 : counted.count;
  }

  private void writeContent(ByteBuffer bytes) throws IOException {
    if (bytes.hasArray()) {
      tar.write(bytes.array(), bytes.arrayOffset() + bytes.position(), bytes.remaining());
      return;
    }
    byte[] chunk = new byte[Math.min(bytes.remaining(), 1 << 16)];
    while (bytes.hasRemaining()) {
      int count = Math.min(chunk.length, bytes.remaining());
      bytes.get(chunk, 0, count);
      tar.write(chunk, 0, count);
    }
  }

  /** Shards completed so far, in order. */
  public List<ShardManifest.Shard> shards() {
    return List.copyOf(written);
  }

  /** Finishes the last shard and writes {@code manifest.json} describing every shard written. */
  public ShardManifest writeManifest(Map<String, Object> spec) throws IOException {
    close();
    ShardManifest manifest = ShardManifest.of(ShardManifest.KIND_WEBDATASET, spec, written);
    manifest.write(dir);
    return manifest;
  }

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    if (tar != null) {
      finishShard();
    }
  }

  /** Stops writing: the current shard's partial file is deleted; completed shards stay. */
  public void abort() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    if (tar != null) {
      try {
        tar.close();
      } finally {
        tar = null;
        Files.deleteIfExists(AtomicFiles.inProgress(currentTarget));
      }
    }
  }

  private void openNextShard() throws IOException {
    // Locale.ROOT: some default locales format digits in other scripts.
    String name = String.format(Locale.ROOT, options.namePattern(), nextIndex++);
    currentTarget = dir.resolve(name);
    digest = Sha256.newDigest();
    OutputStream file = Files.newOutputStream(AtomicFiles.inProgress(currentTarget));
    counted =
        new CountingOutputStream(
            new DigestOutputStream(new BufferedOutputStream(file, 1 << 20), digest));
    tar = new TarArchiveOutputStream(counted, RECORD_SIZE);
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    tar.setAddPaxHeadersForNonAsciiNames(true);
    samplesInCurrent = 0;
  }

  private void finishShard() throws IOException {
    tar.finish();
    tar.close();
    tar = null;
    Path partial = AtomicFiles.inProgress(currentTarget);
    long bytes = Files.size(partial);
    AtomicFiles.commit(partial, currentTarget);
    written.add(
        new ShardManifest.Shard(
            currentTarget.getFileName().toString(), samplesInCurrent, bytes, Sha256.hex(digest)));
  }

  /** Counts bytes on their way to the file. */
  private static final class CountingOutputStream extends FilterOutputStream {
    long count;

    CountingOutputStream(OutputStream out) {
      super(out);
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      count += len;
    }
  }

  private static void validateKey(String key) {
    if (key.isEmpty() || key.startsWith("/") || key.contains("..") || key.contains("\0")) {
      throw new IllegalArgumentException("unsafe sample key '" + key + "'");
    }
    String base = key.substring(key.lastIndexOf('/') + 1);
    if (base.isEmpty() || base.contains(".")) {
      throw new IllegalArgumentException(
          "sample key '" + key + "' must not contain a dot in its file name");
    }
  }

  private static void validateExtension(String key, String extension) {
    if (extension.isEmpty() || extension.contains("/") || extension.contains("\0")) {
      throw new IllegalArgumentException(
          "sample '" + key + "' has an invalid member extension '" + extension + "'");
    }
  }

  /** Wraps {@link #write} for use in lambdas. */
  public void writeUnchecked(Sample sample) {
    try {
      write(sample);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
