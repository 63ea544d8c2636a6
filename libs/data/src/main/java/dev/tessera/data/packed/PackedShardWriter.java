package dev.tessera.data.packed;

import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.io.Npy;
import dev.tessera.data.io.Sha256;
import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.webdataset.ShardWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Writes one packed shard: {@code NNNNN.tar} (the sequences as WebDataset samples) and {@code
 * NNNNN.idx.npy} (int64 byte offsets of each sequence in the tar, plus the end of the last), both
 * written under a temporary name and renamed when complete — the index last, so a shard with an
 * index is whole. Shards are independent: several writers may fill different shards at once.
 */
public final class PackedShardWriter implements AutoCloseable {
  private final Path dir;
  private final int shardIndex;
  private final ShardWriter tar;
  private long[] offsets = new long[64];
  private int sequences;
  private boolean finished;

  public PackedShardWriter(Path dir, int shardIndex) throws IOException {
    this.dir = dir;
    this.shardIndex = shardIndex;
    this.tar =
        new ShardWriter(
            dir, ShardWriter.Options.samplesPerShard(Integer.MAX_VALUE).withFirstIndex(shardIndex));
  }

  /** File name of shard {@code index}. */
  public static String shardName(int index) {
    return String.format(Locale.ROOT, "%05d.tar", index);
  }

  /** File name of the index of shard {@code index}. */
  public static String indexName(int index) {
    return String.format(Locale.ROOT, "%05d.idx.npy", index);
  }

  /** Appends a sequence. */
  public void write(PackedSequence sequence) throws IOException {
    if (sequences + 1 >= offsets.length) {
      offsets = Arrays.copyOf(offsets, offsets.length * 2);
    }
    offsets[sequences++] = tar.write(sequence.toSample());
  }

  /**
   * Completes the shard and its index.
   *
   * @return the manifest entry, index included
   */
  public ShardManifest.Shard finish() throws IOException {
    if (finished) {
      throw new IllegalStateException("shard " + shardName(shardIndex) + " already finished");
    }
    if (sequences == 0) {
      throw new IllegalStateException("shard " + shardName(shardIndex) + " has no sequences");
    }
    finished = true;
    offsets[sequences] = tar.position();
    tar.close();
    List<ShardManifest.Shard> written = tar.shards();
    ShardManifest.Shard shard = written.get(0);
    byte[] index = Npy.int64(Arrays.copyOf(offsets, sequences + 1));
    Path indexFile = dir.resolve(indexName(shardIndex));
    AtomicFiles.write(indexFile, index);
    return new ShardManifest.Shard(
        shard.name(),
        shard.samples(),
        shard.bytes(),
        shard.sha256(),
        new ShardManifest.File(indexFile.getFileName().toString(), index.length, Sha256.of(index)));
  }

  /** Abandons an unfinished shard: its partial file is removed. */
  @Override
  public void close() throws IOException {
    if (!finished) {
      finished = true;
      tar.abort();
    }
  }
}
