package dev.tessera.data.uid;

import dev.tessera.data.io.Npy;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code .npy} layout of a DataComp uid list: a numpy structured array of dtype {@code
 * np.dtype("u8,u8")}, i.e. {@code [('f0', '<u8'), ('f1', '<u8')]}, one dimension, as {@code
 * np.save} writes it. Encoding follows numpy's {@code numpy/lib/format.py} exactly so that the
 * bytes match; decoding accepts format versions 1.0, 2.0 and 3.0 and any spelling of the header
 * that {@code ast.literal_eval} would read the same way.
 */
final class NpyUidFormat {

  /** Bytes per uid: two little-endian unsigned 64-bit fields. */
  static final int RECORD_BYTES = 16;

  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  // Guards against allocating for an absurd length field; numpy's own default limit is 10000.
  private static final int MAX_HEADER_BYTES = 1 << 20;
  private static final String DESCR = "[('f0', '<u8'), ('f1', '<u8')]";

  /** Where the records of a parsed file start and how many there are. */
  record Header(int majorVersion, long dataOffset, long count) {}

  private NpyUidFormat() {}

  /**
   * The preamble {@code np.save} writes (format 1.0) for {@code count} uids: magic, version, header
   * length and the header dict padded with spaces to a multiple of 64 bytes, ending in a newline.
   * Its length does not depend on {@code count}.
   */
  static byte[] encodeHeader(long count) {
    if (count < 0) {
      throw new IllegalArgumentException("count must be >= 0, got " + count);
    }
    return Npy.preamble(DESCR, count);
  }

  /**
   * Reads and checks the preamble of {@code file}, and that the file holds exactly the number of
   * records the header announces.
   *
   * @throws IOException naming {@code file} and the problem if it is not a uid list as DataComp
   *     writes it
   */
  static Header readHeader(Path file, FileChannel channel) throws IOException {
    long fileSize = channel.size();
    ByteBuffer start = readFully(file, channel, 0, (int) Math.min(fileSize, 12));
    if (!Arrays.equals(Arrays.copyOf(start.array(), MAGIC.length), MAGIC)) {
      throw problem(file, "is not a .npy file (it does not start with the \\x93NUMPY magic)");
    }
    if (start.remaining() < 10) {
      throw problem(file, "is truncated inside the .npy preamble");
    }
    int major = start.get(6) & 0xff;
    int minor = start.get(7) & 0xff;
    if (minor != 0 || major < 1 || major > 3) {
      throw problem(
          file, "has .npy format version " + major + "." + minor + "; supported: 1.0, 2.0, 3.0");
    }
    long headerLength;
    int prefixBytes;
    if (major == 1) {
      headerLength = start.order(ByteOrder.LITTLE_ENDIAN).getShort(8) & 0xffff;
      prefixBytes = 10;
    } else {
      if (start.remaining() < 12) {
        throw problem(file, "is truncated inside the .npy preamble");
      }
      headerLength = start.order(ByteOrder.LITTLE_ENDIAN).getInt(8) & 0xffffffffL;
      prefixBytes = 12;
    }
    if (headerLength > MAX_HEADER_BYTES) {
      throw problem(
          file, "announces a " + headerLength + "-byte .npy header, which is implausible");
    }
    long dataOffset = prefixBytes + headerLength;
    if (fileSize < dataOffset) {
      throw problem(
          file,
          "is truncated: the .npy header needs "
              + dataOffset
              + " bytes but the file has "
              + fileSize);
    }
    ByteBuffer headerBytes = readFully(file, channel, prefixBytes, (int) headerLength);
    String headerText = decode(file, headerBytes, major);
    long count = checkedCount(file, headerText);

    long dataBytes = fileSize - dataOffset;
    if (count > Long.MAX_VALUE / RECORD_BYTES || dataBytes < count * RECORD_BYTES) {
      throw problem(
          file,
          "is truncated: the header announces "
              + count
              + " uids ("
              + count * RECORD_BYTES
              + " bytes) but only "
              + dataBytes
              + " bytes of data follow");
    }
    if (dataBytes > count * RECORD_BYTES) {
      throw problem(
          file,
          "has "
              + (dataBytes - count * RECORD_BYTES)
              + " unexpected bytes after the "
              + count
              + " uids the header announces");
    }
    return new Header(major, dataOffset, count);
  }

  private static String decode(Path file, ByteBuffer bytes, int major) throws IOException {
    // Format 3.0 only differs from 2.0 in allowing UTF-8 header text; 1.0 and 2.0 are latin-1.
    if (major < 3) {
      return StandardCharsets.ISO_8859_1.decode(bytes).toString();
    }
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(bytes)
          .toString();
    } catch (CharacterCodingException e) {
      throw problem(file, "has a .npy 3.0 header that is not valid UTF-8");
    }
  }

  /** Checks dtype, order and shape in the header dict and returns the number of uids. */
  private static long checkedCount(Path file, String headerText) throws IOException {
    Object parsed;
    try {
      parsed = PythonLiteral.parse(headerText);
    } catch (IllegalArgumentException e) {
      throw problem(file, "has an unreadable .npy header: " + e.getMessage());
    }
    if (!(parsed instanceof Map<?, ?> dict)
        || !dict.keySet().equals(Set.of("descr", "fortran_order", "shape"))) {
      throw problem(
          file,
          "has a .npy header that is not a dict of exactly 'descr', 'fortran_order' and 'shape': "
              + PythonLiteral.quoted(headerText));
    }
    if (!isUidDtype(dict.get("descr"))) {
      throw problem(
          file,
          "has dtype "
              + PythonLiteral.repr(dict.get("descr"))
              + "; a uid list must be np.dtype(\"u8,u8\"), i.e. "
              + DESCR);
    }
    if (!Boolean.FALSE.equals(dict.get("fortran_order"))) {
      throw problem(
          file,
          "has fortran_order "
              + PythonLiteral.repr(dict.get("fortran_order"))
              + "; expected False");
    }
    Object shape = dict.get("shape");
    if (!(shape instanceof PythonLiteral.Tuple tuple)
        || tuple.items().size() != 1
        || !(tuple.items().get(0) instanceof Long length)
        || length < 0) {
      throw problem(
          file,
          "has shape "
              + PythonLiteral.repr(shape)
              + "; a uid list must be one-dimensional, shape (N,)");
    }
    return length;
  }

  private static boolean isUidDtype(Object descr) {
    return descr instanceof List<?> fields
        && fields.size() == 2
        && isField(fields.get(0), "f0")
        && isField(fields.get(1), "f1");
  }

  private static boolean isField(Object field, String name) {
    return field instanceof PythonLiteral.Tuple tuple && tuple.items().equals(List.of(name, "<u8"));
  }

  private static ByteBuffer readFully(Path file, FileChannel channel, long position, int length)
      throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(length);
    while (buffer.hasRemaining()) {
      int read = channel.read(buffer, position + buffer.position());
      if (read < 0) {
        throw problem(file, "is truncated inside the .npy preamble");
      }
    }
    return buffer.flip();
  }

  static IOException problem(Path file, String what) {
    return new IOException("uid list " + file + " " + what);
  }
}
