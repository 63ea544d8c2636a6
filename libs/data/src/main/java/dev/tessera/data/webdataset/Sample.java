package dev.tessera.data.webdataset;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One WebDataset sample: the tar members that share a key, by extension ({@code jpg}, {@code txt},
 * {@code json}, ...), in the order they appear. Extensions are lower-case; any extension is kept.
 *
 * <p>Members are held as read-only byte buffers. Samples from a {@link WebDatasetReader} are views
 * of the memory-mapped shard (nothing is copied until a caller asks for {@link #bytes}), so reading
 * a shard costs no more than reading its file; the views stay valid as long as they are referenced.
 *
 * @param shard name of the shard the sample came from, or {@code null} for a sample being written
 * @param key the sample key (the member name up to the first dot of its file name)
 * @param buffers member bytes by extension, in tar order
 */
public record Sample(String shard, String key, Map<String, ByteBuffer> buffers) {

  /** Image extensions, in order of preference when a sample holds more than one. */
  public static final List<String> IMAGE_EXTENSIONS = List.of("jpg", "jpeg", "png", "webp");

  public Sample {
    Objects.requireNonNull(key, "key");
    LinkedHashMap<String, ByteBuffer> views = new LinkedHashMap<>();
    // Own views, so callers moving their buffers' positions cannot change the sample.
    buffers.forEach((extension, bytes) -> views.put(extension, bytes.duplicate()));
    buffers = Collections.unmodifiableMap(views);
  }

  /** A new sample with the given key and members, for writing. */
  public static Sample of(String key, Map<String, byte[]> members) {
    LinkedHashMap<String, ByteBuffer> buffers = new LinkedHashMap<>();
    members.forEach((extension, bytes) -> buffers.put(extension, ByteBuffer.wrap(bytes)));
    return new Sample(null, key, buffers);
  }

  /** The member's bytes as a fresh read-only view (position 0), without copying. */
  public Optional<ByteBuffer> buffer(String extension) {
    ByteBuffer bytes = buffers.get(extension);
    return bytes == null ? Optional.empty() : Optional.of(bytes.asReadOnlyBuffer());
  }

  /** A copy of the member's bytes. */
  public Optional<byte[]> bytes(String extension) {
    return buffer(extension).map(Sample::copy);
  }

  /** A stream over the member's bytes. */
  public Optional<InputStream> open(String extension) {
    return buffer(extension).map(ByteBufferInputStream::new);
  }

  /** Copies of all members, by extension in tar order. */
  public Map<String, byte[]> members() {
    LinkedHashMap<String, byte[]> copies = new LinkedHashMap<>();
    buffers.forEach((extension, bytes) -> copies.put(extension, copy(bytes.duplicate())));
    return copies;
  }

  /** The extension of the sample's image member, if it has one. */
  public Optional<String> imageExtension() {
    return IMAGE_EXTENSIONS.stream().filter(buffers::containsKey).findFirst();
  }

  /** A copy of the image's bytes. */
  public Optional<byte[]> image() {
    return imageExtension().flatMap(this::bytes);
  }

  /** A stream over the image's bytes, for decoders; nothing is copied. */
  public Optional<InputStream> openImage() {
    return imageExtension().flatMap(this::open);
  }

  /** The caption ({@code .txt}) decoded as UTF-8, if present; the reader has checked it. */
  public Optional<String> caption() {
    return buffer("txt").map(bytes -> StandardCharsets.UTF_8.decode(bytes).toString());
  }

  /** A copy of the {@code .json} member. */
  public Optional<byte[]> json() {
    return bytes("json");
  }

  /** Total bytes over all members. */
  public long byteSize() {
    long total = 0;
    for (ByteBuffer bytes : buffers.values()) {
      total += bytes.remaining();
    }
    return total;
  }

  /** True when the bytes are valid UTF-8 (strict: malformed and unmappable input fail). */
  static boolean isValidUtf8(ByteBuffer bytes) {
    if (isAscii(bytes)) {
      return true;
    }
    try {
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(bytes.duplicate());
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  private static boolean isAscii(ByteBuffer bytes) {
    for (int i = bytes.position(); i < bytes.limit(); i++) {
      if (bytes.get(i) < 0) {
        return false;
      }
    }
    return true;
  }

  private static byte[] copy(ByteBuffer bytes) {
    byte[] array = new byte[bytes.remaining()];
    bytes.get(array);
    return array;
  }

  @Override
  public String toString() {
    return "Sample[" + (shard == null ? "" : shard + ":") + key + " " + buffers.keySet() + "]";
  }

  /** An input stream over a byte buffer. */
  private static final class ByteBufferInputStream extends InputStream {
    private final ByteBuffer bytes;

    ByteBufferInputStream(ByteBuffer bytes) {
      this.bytes = bytes;
    }

    @Override
    public int read() {
      return bytes.hasRemaining() ? bytes.get() & 0xff : -1;
    }

    @Override
    public int read(byte[] target, int offset, int length) {
      if (length == 0) {
        return 0;
      }
      if (!bytes.hasRemaining()) {
        return -1;
      }
      int count = Math.min(length, bytes.remaining());
      bytes.get(target, offset, count);
      return count;
    }

    @Override
    public long skip(long count) {
      int skipped = (int) Math.max(0, Math.min(count, bytes.remaining()));
      bytes.position(bytes.position() + skipped);
      return skipped;
    }

    @Override
    public int available() {
      return bytes.remaining();
    }
  }
}
