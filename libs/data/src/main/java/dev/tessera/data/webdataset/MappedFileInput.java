package dev.tessera.data.webdataset;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A seekable input stream over a file through memory-mapped windows, which also hands out read-only
 * slices of the file. Tar members are delivered as such slices: no copy and no allocation per
 * member, the consumer reads straight from the page cache. Windows keep files of any size within
 * Java 17's 2 GiB mapping limit; a slice keeps its window mapped for as long as it is referenced,
 * so slices stay valid after the reader moves on or is closed.
 */
final class MappedFileInput extends InputStream {
  static final int DEFAULT_WINDOW = 64 << 20;
  private static final int PAGE = 4096;

  private final FileChannel channel;
  private final long size;
  private final int windowSize;
  private MappedByteBuffer window;
  private long windowStart;
  private long position;

  MappedFileInput(FileChannel channel, int windowSize) throws IOException {
    this.channel = channel;
    this.size = channel.size();
    this.windowSize = windowSize;
  }

  long size() {
    return size;
  }

  long position() {
    return position;
  }

  void seek(long newPosition) {
    position = Math.max(0, Math.min(newPosition, size));
  }

  @Override
  public int read() throws IOException {
    if (position >= size) {
      return -1;
    }
    ensureMapped();
    return window.get((int) (position++ - windowStart)) & 0xff;
  }

  @Override
  public int read(byte[] target, int offset, int length) throws IOException {
    if (length == 0) {
      return 0;
    }
    if (position >= size) {
      return -1;
    }
    int copied = 0;
    while (copied < length && position < size) {
      ensureMapped();
      int inWindow = (int) Math.min(length - copied, windowStart + window.limit() - position);
      window.get((int) (position - windowStart), target, offset + copied, inWindow);
      position += inWindow;
      copied += inWindow;
    }
    return copied;
  }

  @Override
  public long skip(long count) {
    long skipped = Math.max(0, Math.min(count, size - position));
    position += skipped;
    return skipped;
  }

  @Override
  public int available() {
    return (int) Math.min(Integer.MAX_VALUE, size - position);
  }

  /**
   * A read-only view of {@code length} bytes at {@code offset}; the caller has checked that they
   * lie inside the file. Remaps so that the whole range is inside one window.
   */
  ByteBuffer slice(long offset, int length) throws IOException {
    if (window == null || offset < windowStart || offset + length > windowStart + window.limit()) {
      map(offset, length);
    }
    int start = (int) (offset - windowStart);
    return window.slice(start, length).asReadOnlyBuffer();
  }

  /** Reads {@code target.remaining()} bytes at an absolute offset without moving the stream. */
  void readAt(long offset, ByteBuffer target) throws IOException {
    long at = offset;
    while (target.hasRemaining()) {
      int read = channel.read(target, at);
      if (read < 0) {
        throw new EOFException("end of file at offset " + at);
      }
      at += read;
    }
  }

  private void ensureMapped() throws IOException {
    if (window != null && position >= windowStart && position < windowStart + window.limit()) {
      return;
    }
    map(position, 1);
  }

  /** Maps a window that starts at the page holding {@code offset} and covers {@code length}. */
  private void map(long offset, int length) throws IOException {
    // Dropped windows are unmapped by the garbage collector once no slice refers to them.
    windowStart = offset - (offset % PAGE);
    long wanted = Math.max(windowSize, offset - windowStart + length);
    window =
        channel.map(
            FileChannel.MapMode.READ_ONLY, windowStart, Math.min(wanted, size - windowStart));
  }

  @Override
  public void close() {
    window = null;
  }
}
