package dev.tessera.data.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Writes numpy {@code .npy} files byte for byte as {@code np.save} does (format 1.0): magic,
 * version, header length, then the header dict with numpy's growth-axis padding, padded with spaces
 * to a multiple of 64 bytes and ending in a newline, then the data.
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final int ARRAY_ALIGN = 64;
  // numpy leaves room in the header for the first axis to grow to 21 digits.
  private static final int GROWTH_AXIS_MAX_DIGITS = 21;

  private Npy() {}

  /**
   * The preamble of a C-order array.
   *
   * @param descr the dtype as numpy writes it, e.g. {@code '<f4'} (quotes included) or a list of
   *     fields
   * @param shape the array's shape
   */
  public static byte[] preamble(String descr, long... shape) {
    String dims =
        shape.length == 1
            ? "(" + shape[0] + ",)"
            : Arrays.stream(shape)
                .mapToObj(Long::toString)
                .collect(Collectors.joining(", ", "(", ")"));
    String dict = "{'descr': " + descr + ", 'fortran_order': False, 'shape': " + dims + ", }";
    String growth = shape.length == 0 ? "" : Long.toString(shape[0]);
    String header = dict + " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - growth.length()));
    int prefixBytes = MAGIC.length + 2 + 2;
    int padding = ARRAY_ALIGN - ((prefixBytes + header.length() + 1) % ARRAY_ALIGN);
    String padded = header + " ".repeat(padding % ARRAY_ALIGN) + "\n";
    ByteBuffer out =
        ByteBuffer.allocate(prefixBytes + padded.length()).order(ByteOrder.LITTLE_ENDIAN);
    out.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) padded.length());
    out.put(padded.getBytes(StandardCharsets.ISO_8859_1));
    return out.array();
  }

  /** Writes {@code values} as a little-endian float32 array of {@code shape}, atomically. */
  public static void writeFloat32(Path target, float[] values, int... shape) throws IOException {
    long size = 1;
    for (int dim : shape) {
      size *= dim;
    }
    if (size != values.length) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(shape) + " holds " + size + " values, got " + values.length);
    }
    Path partial = AtomicFiles.inProgress(target);
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(partial), 1 << 16)) {
      out.write(preamble("'<f4'", Arrays.stream(shape).asLongStream().toArray()));
      ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
      for (float value : values) {
        if (!chunk.hasRemaining()) {
          out.write(chunk.array(), 0, chunk.position());
          chunk.clear();
        }
        chunk.putFloat(value);
      }
      out.write(chunk.array(), 0, chunk.position());
    }
    AtomicFiles.commit(partial, target);
  }
}
