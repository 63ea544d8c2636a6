package dev.tessera.data.packed;

import dev.tessera.data.io.Npy;
import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.webdataset.Sample;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * A packed set opened for reading: its manifest, layout and shard indexes, and any sequence by
 * number. Reads are positional, so one instance serves several threads.
 */
public final class PackedShards implements AutoCloseable {
  /** A sequence whose tar span is larger than this is refused as corrupt. */
  private static final long MAX_SEQUENCE_BYTES = 1L << 30;

  private final Path dir;
  private final ShardManifest manifest;
  private final PackedLayout layout;
  private final long[][] offsets;
  private final long[] firstSequence;
  private final FileChannel[] channels;

  private PackedShards(Path dir, ShardManifest manifest, PackedLayout layout, long[][] offsets) {
    this.dir = dir;
    this.manifest = manifest;
    this.layout = layout;
    this.offsets = offsets;
    this.firstSequence = new long[offsets.length + 1];
    for (int i = 0; i < offsets.length; i++) {
      firstSequence[i + 1] = firstSequence[i] + offsets[i].length - 1;
    }
    this.channels = new FileChannel[offsets.length];
  }

  /** Whether {@code dir} holds a packed set (its manifest says so). */
  public static boolean isPacked(Path dir) {
    try {
      return Files.isRegularFile(dir.resolve(ShardManifest.FILE_NAME))
          && ShardManifest.KIND_PACKED.equals(ShardManifest.read(dir).kind());
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Opens the packed set in {@code dir}: reads the manifest and every shard's index (small: eight
   * bytes per sequence). Checksums are not computed here; {@link #verify} does that.
   *
   * @throws IOException when the manifest is missing or not of a packed set, or an index is missing
   *     or disagrees with the manifest
   */
  public static PackedShards open(Path dir) throws IOException {
    ShardManifest manifest = ShardManifest.read(dir);
    if (!ShardManifest.KIND_PACKED.equals(manifest.kind())) {
      throw new IOException(
          dir + " holds " + manifest.kind() + " shards, not " + ShardManifest.KIND_PACKED);
    }
    PackedLayout layout;
    try {
      layout = PackedLayout.fromMap(manifest.layout());
    } catch (IllegalArgumentException e) {
      throw new IOException(dir + ": " + e.getMessage(), e);
    }
    long[][] offsets = new long[manifest.shards().size()][];
    for (int i = 0; i < offsets.length; i++) {
      ShardManifest.Shard shard = manifest.shards().get(i);
      if (shard.index() == null) {
        throw new IOException(dir + ": shard " + shard.name() + " has no index in the manifest");
      }
      Path indexFile = dir.resolve(shard.index().name());
      if (!Files.isRegularFile(indexFile)) {
        throw new NoSuchFileException(indexFile.toString(), null, "index of " + shard.name());
      }
      long[] index = Npy.readInt64(ByteBuffer.wrap(Files.readAllBytes(indexFile)));
      if (index.length != shard.samples() + 1) {
        throw new IOException(
            indexFile
                + " has "
                + (index.length - 1)
                + " entries, manifest says "
                + shard.samples());
      }
      for (int k = 1; k < index.length; k++) {
        if (index[k] <= index[k - 1] || index[k] - index[k - 1] > MAX_SEQUENCE_BYTES) {
          throw new IOException(indexFile + ": offsets are not increasing at entry " + k);
        }
      }
      if (index[index.length - 1] > shard.bytes()) {
        throw new IOException(indexFile + ": offsets run past the end of " + shard.name());
      }
      offsets[i] = index;
    }
    return new PackedShards(dir, manifest, layout, offsets);
  }

  public ShardManifest manifest() {
    return manifest;
  }

  public PackedLayout layout() {
    return layout;
  }

  public Path dir() {
    return dir;
  }

  public int shardCount() {
    return offsets.length;
  }

  /** Sequences in the whole set. */
  public long sequenceCount() {
    return firstSequence[offsets.length];
  }

  /** Sequences in shard {@code shard}. */
  public int sequencesIn(int shard) {
    return offsets[shard].length - 1;
  }

  /** Number of the first sequence of shard {@code shard}. */
  public long firstSequenceOf(int shard) {
    return firstSequence[shard];
  }

  /** Sequence {@code sequence} of the whole set. */
  public PackedSequence read(long sequence) throws IOException {
    if (sequence < 0 || sequence >= sequenceCount()) {
      throw new IndexOutOfBoundsException(
          "sequence " + sequence + " of a set of " + sequenceCount());
    }
    int shard = Arrays.binarySearch(firstSequence, sequence);
    // An exact hit can be an empty range's start: take the last shard beginning at or before it.
    if (shard < 0) {
      shard = -shard - 2;
    } else {
      while (shard + 1 < offsets.length && firstSequence[shard + 1] == sequence) {
        shard++;
      }
    }
    return read(shard, (int) (sequence - firstSequence[shard]));
  }

  /** Sequence {@code position} of shard {@code shard}. */
  public PackedSequence read(int shard, int position) throws IOException {
    long[] index = offsets[shard];
    if (position < 0 || position >= index.length - 1) {
      throw new IndexOutOfBoundsException(
          "sequence " + position + " of shard " + shard + " with " + (index.length - 1));
    }
    String name = manifest.shards().get(shard).name();
    long start = index[position];
    ByteBuffer span = ByteBuffer.allocate(Math.toIntExact(index[position + 1] - start));
    try {
      readFully(channel(shard), span, start, name, position);
    } catch (ClosedChannelException e) {
      if (Thread.currentThread().isInterrupted()) {
        throw e;
      }
      // Another thread was interrupted while reading and so closed the shared channel: reopen.
      span.clear();
      readFully(channel(shard), span, start, name, position);
    }
    Sample sample = parse(name, span.array());
    PackedSequence sequence = PackedSequence.fromSample(sample);
    long expected = firstSequence[shard] + position;
    if (sequence.index() != expected || !sample.key().equals(PackedSequence.key(expected))) {
      throw new IOException(
          name + ": the index points at sequence " + sample.key() + ", expected " + expected);
    }
    return sequence;
  }

  private static void readFully(
      FileChannel channel, ByteBuffer span, long start, String name, int position)
      throws IOException {
    while (span.hasRemaining()) {
      if (channel.read(span, start + span.position()) < 0) {
        throw new EOFException(name + " ends inside sequence " + position);
      }
    }
  }

  /** The members of one sequence's span; everything in it must share one key. */
  private static Sample parse(String shard, byte[] span) throws IOException {
    Map<String, ByteBuffer> members = new LinkedHashMap<>();
    String key = null;
    try (TarArchiveInputStream tar = new TarArchiveInputStream(new ByteArrayInputStream(span))) {
      for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
        String member = entry.getName();
        int dot = member.indexOf('.');
        if (!entry.isFile() || dot <= 0) {
          throw new IOException(shard + ": unexpected member " + member + " in a packed sequence");
        }
        String memberKey = member.substring(0, dot);
        if (key != null && !key.equals(memberKey)) {
          throw new IOException(shard + ": sequence " + key + " runs into " + memberKey);
        }
        key = memberKey;
        members.put(member.substring(dot + 1), ByteBuffer.wrap(tar.readAllBytes()));
      }
    } catch (IllegalArgumentException e) {
      throw new IOException(shard + ": corrupt tar header: " + e.getMessage(), e);
    }
    if (key == null) {
      throw new IOException(shard + ": the index points at no sequence");
    }
    return new Sample(shard, key, members);
  }

  private synchronized FileChannel channel(int shard) throws IOException {
    if (channels[shard] == null || !channels[shard].isOpen()) {
      channels[shard] =
          FileChannel.open(
              dir.resolve(manifest.shards().get(shard).name()), StandardOpenOption.READ);
    }
    return channels[shard];
  }

  /** Checks every shard and index against the manifest's sizes and checksums. */
  public List<String> verify() throws IOException {
    return manifest.verify(dir);
  }

  @Override
  public synchronized void close() throws IOException {
    IOException first = null;
    for (int i = 0; i < channels.length; i++) {
      if (channels[i] != null) {
        try {
          channels[i].close();
        } catch (IOException e) {
          first = first == null ? e : first;
        }
        channels[i] = null;
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
