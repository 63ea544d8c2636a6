package dev.tessera.data.webdataset;

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
 * {@code json}, ...), in the order they appear. Extensions are lower-case; any extension is kept as
 * bytes.
 *
 * @param shard name of the shard the sample came from, or {@code null} for a sample being written
 * @param key the sample key (the member name up to its first dot)
 * @param members member bytes by extension, in tar order
 */
public record Sample(String shard, String key, Map<String, byte[]> members) {

  /** Image extensions, in order of preference when a sample holds more than one. */
  public static final List<String> IMAGE_EXTENSIONS = List.of("jpg", "jpeg", "png", "webp");

  public Sample {
    Objects.requireNonNull(key, "key");
    members = Collections.unmodifiableMap(new LinkedHashMap<>(members));
  }

  /** A new sample with the given key and members, for writing. */
  public static Sample of(String key, Map<String, byte[]> members) {
    return new Sample(null, key, members);
  }

  public Optional<byte[]> member(String extension) {
    return Optional.ofNullable(members.get(extension));
  }

  /** The extension of the sample's image member, if it has one. */
  public Optional<String> imageExtension() {
    return IMAGE_EXTENSIONS.stream().filter(members::containsKey).findFirst();
  }

  public Optional<byte[]> image() {
    return imageExtension().map(members::get);
  }

  /** The caption ({@code .txt}) decoded as UTF-8, if present; the reader has already checked it. */
  public Optional<String> caption() {
    return member("txt").map(bytes -> new String(bytes, StandardCharsets.UTF_8));
  }

  public Optional<byte[]> json() {
    return member("json");
  }

  /** Total bytes over all members. */
  public long byteSize() {
    long total = 0;
    for (byte[] bytes : members.values()) {
      total += bytes.length;
    }
    return total;
  }

  /** True when {@code bytes} are valid UTF-8 (strict: malformed and unmappable input fail). */
  static boolean isValidUtf8(byte[] bytes) {
    try {
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  @Override
  public String toString() {
    return "Sample[" + (shard == null ? "" : shard + ":") + key + " " + members.keySet() + "]";
  }
}
