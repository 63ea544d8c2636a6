package dev.tessera.data.webdataset;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A seekable input stream over a file through memory-mapped windows. Reading a tar member copies
 * its bytes once, from the page cache straight into the member's array, where a buffered stream
 * would copy them twice; windows keep files of any size within Java 17's 2 GiB mapping limit.
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
    // Dropped windows are unmapped by the garbage collector; only one is referenced at a time.
    windowStart = position - (position % PAGE);
    long length = Math.min(windowSize, size - windowStart);
    window = channel.map(FileChannel.MapMode.READ_ONLY, windowStart, length);
  }

  @Override
  public void close() {
    window = null;
  }
}
