package dev.tessera.model.io;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsHostileFileTest {
  @TempDir Path dir;
  private final Random random = new Random(11);

  /** A file with {@code header} as its JSON, declared length {@code declared}, then data. */
  private Path file(String name, long declared, String header, int dataBytes) throws IOException {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    byte[] data = new byte[dataBytes];
    random.nextBytes(data);
    ByteBuffer buffer =
        ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    buffer.putLong(declared).put(json).put(data);
    Path path = dir.resolve(name);
    Files.write(path, buffer.array());
    return path;
  }

  private Path file(String name, String header, int dataBytes) throws IOException {
    return file(name, header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
  }

  private AbstractThrowableAssert<?, ? extends Throwable> opening(Path path) {
    return assertThatThrownBy(() -> SafetensorsFile.open(path).close())
        .isInstanceOf(IOException.class)
        .hasMessageContaining(path.toString());
  }

  @Test
  void headerLengthBeyondTheFile() throws IOException {
    opening(file("long.safetensors", 1L << 40, "{}", 16)).hasMessageContaining("exceeds the file");
    opening(file("negative.safetensors", -5, "{}", 0)).hasMessageContaining("exceeds the file");
  }

  @Test
  void fileShorterThanTheLengthPrefix() throws IOException {
    Path path = dir.resolve("tiny.safetensors");
    Files.write(path, new byte[] {3, 0, 0});
    opening(path).hasMessageContaining("too short");
  }

  @Test
  void headerThatIsNotJsonOrNotAnObject() throws IOException {
    opening(file("bad.safetensors", "{\"a\": {\"dtype\": ", 0))
        .hasMessageContaining("not valid JSON");
    opening(file("array.safetensors", "[1, 2]", 0)).hasMessageContaining("not a JSON object");
    opening(
            file(
                "dup.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8))
        .hasMessageContaining("not valid JSON")
        .hasMessageContaining("Duplicate field 'a'");
  }

  @Test
  void offsetsOutsideTheDataSection() throws IOException {
    opening(
            file(
                "outside.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                16))
        .hasMessageContaining("'w'")
        .hasMessageContaining("outside the data section");
    opening(
            file(
                "reversed.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}",
                16))
        .hasMessageContaining("'w'");
    opening(
            file(
                "negative.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}",
                16))
        .hasMessageContaining("'w'")
        .hasMessageContaining("invalid data_offsets");
  }

  @Test
  void overlappingTensors() throws IOException {
    opening(
            file(
                "overlap.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                    + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                16))
        .hasMessageContaining("'b' overlaps tensor 'a'");
  }

  @Test
  void shapeThatDisagreesWithTheByteCount() throws IOException {
    opening(
            file(
                "mismatch.safetensors",
                "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,16]}}",
                16))
        .hasMessageContaining("'w'")
        .hasMessageContaining("12 bytes");
    opening(
            file(
                "overflow.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807,4],\"data_offsets\":[0,16]}}",
                16))
        .hasMessageContaining("'w'")
        .hasMessageContaining("too large");
    opening(
            file(
                "negdim.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
                4))
        .hasMessageContaining("invalid dimension");
  }

  @Test
  void unknownAndUnreadableDtypes() throws IOException {
    opening(
            file(
                "unknown.safetensors",
                "{\"w\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                4))
        .hasMessageContaining("'w'")
        .hasMessageContaining("unknown dtype 'F31'");
    Path ints =
        file(
            "ints.safetensors",
            "{\"ids\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            8);
    try (SafetensorsFile st = SafetensorsFile.open(ints)) {
      assertThatThrownBy(() -> st.readFloats("ids"))
          .isInstanceOf(IOException.class)
          .hasMessageContaining(ints.toString())
          .hasMessageContaining("'ids'")
          .hasMessageContaining("I32");
      assertThatThrownBy(() -> st.readFloats("nope"))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("no tensor 'nope'");
    }
  }

  @Test
  void metadataThatIsNotStrings() throws IOException {
    opening(file("meta.safetensors", "{\"__metadata__\":{\"step\":42}}", 0))
        .hasMessageContaining("'step' is not a string");
  }
}
