package dev.tessera.curator.pack;

import dev.tessera.data.io.AtomicFiles;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * The packer's work file for one input shard: each usable sample's token ids and its re-encoded
 * image, in input order, followed by a footer of multimodal lengths and record offsets. Bin
 * assignment reads only the footers; shard writing reads records by position. It is internal to a
 * pack run (kept under {@code OUT/.work} until the run completes), so its layout is free to change
 * with {@link #VERSION}.
 *
 * <pre>
 * record*   int32 idCount, int32 ids[idCount], byte truncated,
 *           text uid ("" = none), text key, text imageExtension, int32 imageBytes, bytes
 * text      int32 byteCount, UTF-8 bytes
 * footer    int32 lengths[n], int64 offsets[n], int32 n, int32 VERSION, int64 MAGIC
 * </pre>
 *
 * Big-endian throughout ({@link DataOutputStream}).
 */
final class ScanFile {
  static final int VERSION = 1;
  private static final long MAGIC = 0x54_45_53_53_53_43_41_4EL; // "TESSSCAN"
  private static final int TRAILER_BYTES = 4 + 4 + 8;

  /** One sample as the scan phase leaves it. */
  record Entry(
      String uid, String key, int[] ids, boolean truncated, String imageExtension, byte[] image) {}

  private ScanFile() {}

  /** Writes entries into {@code target} atomically as they come; {@link #finish} completes it. */
  static final class Writer implements AutoCloseable {
    private final Path target;
    private final DataOutputStream out;
    private int[] lengths = new int[1024];
    private long[] offsets = new long[1024];
    private int count;
    private boolean finished;

    Writer(Path target) throws IOException {
      this.target = target;
      this.out =
          new DataOutputStream(
              new BufferedOutputStream(
                  Files.newOutputStream(AtomicFiles.inProgress(target)), 1 << 20));
    }

    void add(Entry entry, int multimodalLength) throws IOException {
      if (count == lengths.length) {
        lengths = Arrays.copyOf(lengths, count * 2);
        offsets = Arrays.copyOf(offsets, count * 2);
      }
      lengths[count] = multimodalLength;
      offsets[count] = out.size();
      count++;
      out.writeInt(entry.ids().length);
      for (int id : entry.ids()) {
        out.writeInt(id);
      }
      out.writeBoolean(entry.truncated());
      writeText(entry.uid() == null ? "" : entry.uid());
      writeText(entry.key());
      writeText(entry.imageExtension());
      out.writeInt(entry.image().length);
      out.write(entry.image());
      if (out.size() < 0) {
        throw new IOException(target + " would exceed 2 GiB; use smaller input shards");
      }
    }

    private void writeText(String text) throws IOException {
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      out.writeInt(bytes.length);
      out.write(bytes);
    }

    void finish() throws IOException {
      for (int i = 0; i < count; i++) {
        out.writeInt(lengths[i]);
      }
      for (int i = 0; i < count; i++) {
        out.writeLong(offsets[i]);
      }
      out.writeInt(count);
      out.writeInt(VERSION);
      out.writeLong(MAGIC);
      out.close();
      finished = true;
      AtomicFiles.commit(AtomicFiles.inProgress(target), target);
    }

    @Override
    public void close() throws IOException {
      if (!finished) {
        out.close();
        Files.deleteIfExists(AtomicFiles.inProgress(target));
      }
    }
  }

  /** A finished scan file, memory-mapped; records are read by position from any thread. */
  static final class Reader {
    private final Path file;
    private final MappedByteBuffer map;
    private final int[] lengths;
    private final long[] offsets;

    private Reader(Path file, MappedByteBuffer map, int[] lengths, long[] offsets) {
      this.file = file;
      this.map = map;
      this.lengths = lengths;
      this.offsets = offsets;
    }

    static Reader open(Path file) throws IOException {
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
        long size = channel.size();
        if (size < TRAILER_BYTES || size > Integer.MAX_VALUE) {
          throw new IOException("scan file " + file + " has an impossible size " + size);
        }
        MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
        map.order(ByteOrder.BIG_ENDIAN);
        int trailer = (int) size - TRAILER_BYTES;
        int count = map.getInt(trailer);
        int version = map.getInt(trailer + 4);
        if (map.getLong(trailer + 8) != MAGIC || version != VERSION) {
          throw new IOException("scan file " + file + " is damaged or from another version");
        }
        long footer = (long) trailer - 12L * count;
        if (count < 0 || footer < 0) {
          throw new IOException("scan file " + file + " has a damaged footer");
        }
        int[] lengths = new int[count];
        long[] offsets = new long[count];
        ByteBuffer in = map.duplicate().position((int) footer);
        in.asIntBuffer().get(lengths);
        in.position((int) footer + 4 * count);
        in.asLongBuffer().get(offsets);
        return new Reader(file, map, lengths, offsets);
      }
    }

    int count() {
      return lengths.length;
    }

    int[] lengths() {
      return lengths.clone();
    }

    Entry read(int index) throws IOException {
      try {
        ByteBuffer in = map.duplicate().position(Math.toIntExact(offsets[index]));
        int[] ids = new int[in.getInt()];
        in.asIntBuffer().get(ids);
        in.position(in.position() + 4 * ids.length);
        boolean truncated = in.get() != 0;
        String uid = utf(in);
        String key = utf(in);
        String extension = utf(in);
        byte[] image = new byte[in.getInt()];
        in.get(image);
        return new Entry(uid.isEmpty() ? null : uid, key, ids, truncated, extension, image);
      } catch (RuntimeException e) {
        throw new IOException("scan file " + file + " record " + index + " is damaged", e);
      }
    }

    private static String utf(ByteBuffer in) {
      byte[] bytes = new byte[in.getInt()];
      in.get(bytes);
      return new String(bytes, StandardCharsets.UTF_8);
    }
  }
}
