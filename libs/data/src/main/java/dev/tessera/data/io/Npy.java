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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

  /** {@code values} as the bytes of a little-endian int32 {@code .npy} file of one dimension. */
  public static byte[] int32(int[] values) {
    byte[] preamble = preamble("'<i4'", values.length);
    ByteBuffer out =
        ByteBuffer.allocate(preamble.length + 4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    out.put(preamble);
    out.asIntBuffer().put(values);
    return out.array();
  }

  /** {@code values} as the bytes of a little-endian int64 {@code .npy} file of one dimension. */
  public static byte[] int64(long[] values) {
    byte[] preamble = preamble("'<i8'", values.length);
    ByteBuffer out =
        ByteBuffer.allocate(preamble.length + 8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    out.put(preamble);
    out.asLongBuffer().put(values);
    return out.array();
  }

  /** {@code values} as the bytes of a uint8 {@code .npy} file of one dimension. */
  public static byte[] uint8(byte[] values) {
    byte[] preamble = preamble("'|u1'", values.length);
    byte[] out = Arrays.copyOf(preamble, preamble.length + values.length);
    System.arraycopy(values, 0, out, preamble.length, values.length);
    return out;
  }

  /** Reads a one-dimensional little-endian int32 array written by {@link #int32} or numpy. */
  public static int[] readInt32(ByteBuffer file) throws IOException {
    ByteBuffer data = body(file, "'<i4'", 4);
    int[] values = new int[data.remaining() / 4];
    data.asIntBuffer().get(values);
    return values;
  }

  /** Reads a one-dimensional little-endian int64 array written by {@link #int64} or numpy. */
  public static long[] readInt64(ByteBuffer file) throws IOException {
    ByteBuffer data = body(file, "'<i8'", 8);
    long[] values = new long[data.remaining() / 8];
    data.asLongBuffer().get(values);
    return values;
  }

  /** Reads a one-dimensional uint8 array written by {@link #uint8} or numpy. */
  public static byte[] readUint8(ByteBuffer file) throws IOException {
    ByteBuffer data = body(file, "'|u1'", 1);
    byte[] values = new byte[data.remaining()];
    data.get(values);
    return values;
  }

  /**
   * The data of a one-dimensional C-order array of dtype {@code descr}, checked against the header.
   */
  private static ByteBuffer body(ByteBuffer file, String descr, int itemSize) throws IOException {
    ByteBuffer in = file.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    byte[] magic = new byte[MAGIC.length];
    if (in.remaining() < 10) {
      throw new IOException("not a .npy file: " + in.remaining() + " bytes");
    }
    in.get(magic);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new IOException("not a .npy file: bad magic");
    }
    int major = in.get();
    in.get();
    int headerLength = major == 1 ? Short.toUnsignedInt(in.getShort()) : in.getInt();
    if (major < 1 || major > 3 || headerLength > in.remaining()) {
      throw new IOException("not a .npy file: version " + major + ", header " + headerLength);
    }
    byte[] headerBytes = new byte[headerLength];
    in.get(headerBytes);
    String header = new String(headerBytes, StandardCharsets.ISO_8859_1);
    Matcher matcher = HEADER.matcher(header);
    if (!matcher.find()) {
      throw new IOException("unsupported .npy header " + header.strip());
    }
    if (!matcher.group(1).equals(descr) || !matcher.group(2).equals("False")) {
      throw new IOException(
          ".npy array is "
              + matcher.group(1)
              + " (fortran "
              + matcher.group(2)
              + "), expected "
              + descr);
    }
    long count = Long.parseLong(matcher.group(3));
    if (count * itemSize != in.remaining()) {
      throw new IOException(
          ".npy array of " + count + " items holds " + in.remaining() + " bytes of data");
    }
    return in.slice().order(ByteOrder.LITTLE_ENDIAN);
  }

  private static final Pattern HEADER =
      Pattern.compile(
          "\\{'descr': ('[^']*'), 'fortran_order': (True|False), 'shape': \\((\\d+),\\), \\}");
}
