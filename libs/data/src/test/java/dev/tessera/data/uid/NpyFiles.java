package dev.tessera.data.uid;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** Builds {@code .npy} bytes by hand, to feed the reader files no well-behaved writer makes. */
final class NpyFiles {
  static final String GOOD_DESCR = "[('f0', '<u8'), ('f1', '<u8')]";

  private NpyFiles() {}

  /** A numpy-style header dict for a 1-D array of {@code count} records with the given descr. */
  static String dict(String descr, long count) {
    return "{'descr': " + descr + ", 'fortran_order': False, 'shape': (" + count + ",), }";
  }

  /**
   * Magic, version {@code major}.0, header length and {@code header} padded to 64 bytes the way
   * numpy pads, then {@code data}.
   */
  static byte[] file(int major, String header, byte[] data) {
    byte[] text =
        header.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    int prefix = major == 1 ? 10 : 12;
    int padding = 64 - ((prefix + text.length + 1) % 64);
    ByteBuffer out =
        ByteBuffer.allocate(prefix + text.length + padding + 1 + data.length)
            .order(ByteOrder.LITTLE_ENDIAN);
    out.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
    if (major == 1) {
      out.putShort((short) (text.length + padding + 1));
    } else {
      out.putInt(text.length + padding + 1);
    }
    out.put(text).put(" ".repeat(padding).getBytes(StandardCharsets.US_ASCII)).put((byte) '\n');
    return out.put(data).array();
  }

  /** Records as (f0, f1) little-endian pairs, in the given order. */
  static byte[] records(List<Uid> uids) {
    ByteBuffer out = ByteBuffer.allocate(16 * uids.size()).order(ByteOrder.LITTLE_ENDIAN);
    uids.forEach(uid -> out.putLong(uid.hi()).putLong(uid.lo()));
    return out.array();
  }

  /** A test resource's bytes. */
  static byte[] resource(String name) {
    try (InputStream in = NpyFiles.class.getResourceAsStream("/uid/" + name)) {
      if (in == null) {
        throw new IllegalStateException("missing test resource /uid/" + name);
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The uids of the numpy fixtures, one per line in {@code uids-10.txt}. */
  static List<Uid> fixtureUids() {
    return new String(resource("uids-10.txt"), StandardCharsets.US_ASCII)
        .lines()
        .map(Uid::parse)
        .toList();
  }
}
