package dev.tessera.model.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.DType;
import dev.tessera.engine.cpu.CpuBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsDirectoryTest {
  @TempDir Path dir;
  private final Random random = new Random(5);

  private float[] randn(int n) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextGaussian();
    }
    return values;
  }

  private static final String INDEX =
      "{\"metadata\": {\"total_size\": 104}, \"weight_map\": {"
          + "\"a\": \"model-00001-of-00002.safetensors\","
          + " \"b\": \"model-00002-of-00002.safetensors\","
          + " \"c\": \"model-00001-of-00002.safetensors\"}}";

  @Test
  void resolvesNamesAcrossShards() throws IOException {
    float[] a = randn(6);
    float[] b = randn(12);
    float[] c = randn(8);
    new SafetensorsWriter()
        .add("a", DType.F32, new int[] {2, 3}, a)
        .add("c", DType.BF16, new int[] {8}, c)
        .write(dir.resolve("model-00001-of-00002.safetensors"));
    new SafetensorsWriter()
        .add("b", DType.F32, new int[] {3, 4}, b)
        .write(dir.resolve("model-00002-of-00002.safetensors"));
    Files.writeString(dir.resolve(SafetensorsDirectory.INDEX_FILE), INDEX);

    try (SafetensorsDirectory ckpt = SafetensorsDirectory.open(dir)) {
      assertThat(ckpt.names()).containsExactly("a", "b", "c");
      assertThat(ckpt.files()).hasSize(2);
      assertThat(ckpt.metadata()).containsEntry("total_size", "104");
      assertThat(ckpt.fileOf("b").getFileName().toString())
          .isEqualTo("model-00002-of-00002.safetensors");
      assertThat(ckpt.readFloats("a")).containsExactly(a);
      var target = CpuBackend.get().zeros(3, 4);
      ckpt.readInto("b", target);
      assertThat(CpuBackend.get().toHost(target)).containsExactly(b);
      assertThat(ckpt.readFloats("c")[3]).isEqualTo(DType.bf16ToFloat(DType.floatToBf16(c[3])));
      assertThatThrownBy(() -> ckpt.readFloats("d")).hasMessageContaining("no tensor 'd'");
    }
  }

  @Test
  void singleFileDirectory() throws IOException {
    float[] w = randn(5);
    new SafetensorsWriter()
        .metadata("format", "pt")
        .add("w", DType.F32, new int[] {5}, w)
        .write(dir.resolve("model.safetensors"));
    try (SafetensorsDirectory ckpt = SafetensorsDirectory.open(dir)) {
      assertThat(ckpt.names()).containsExactly("w");
      assertThat(ckpt.metadata()).containsEntry("format", "pt");
      assertThat(ckpt.readFloats("w")).containsExactly(w);
    }
  }

  @Test
  void missingShardIsNamed() throws IOException {
    new SafetensorsWriter()
        .add("a", DType.F32, new int[] {2, 3}, randn(6))
        .add("c", DType.BF16, new int[] {8}, randn(8))
        .write(dir.resolve("model-00001-of-00002.safetensors"));
    Files.writeString(dir.resolve(SafetensorsDirectory.INDEX_FILE), INDEX);
    assertThatThrownBy(() -> SafetensorsDirectory.open(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("model-00002-of-00002.safetensors")
        .hasMessageContaining("'b'")
        .hasMessageContaining("missing");
  }

  @Test
  void tensorAbsentFromItsShard() throws IOException {
    new SafetensorsWriter()
        .add("a", DType.F32, new int[] {2, 3}, randn(6))
        .write(dir.resolve("model-00001-of-00002.safetensors"));
    new SafetensorsWriter()
        .add("b", DType.F32, new int[] {3, 4}, randn(12))
        .write(dir.resolve("model-00002-of-00002.safetensors"));
    Files.writeString(dir.resolve(SafetensorsDirectory.INDEX_FILE), INDEX);
    assertThatThrownBy(() -> SafetensorsDirectory.open(dir))
        .hasMessageContaining("tensor 'c' is not in its shard");
  }

  @Test
  void hostileIndexes() throws IOException {
    Path index = dir.resolve(SafetensorsDirectory.INDEX_FILE);
    Files.writeString(index, "{\"weight_map\": {\"a\": \"../escape.safetensors\"}}");
    assertThatThrownBy(() -> SafetensorsDirectory.open(dir))
        .hasMessageContaining("not a file name");
    Files.writeString(index, "{\"weight_map\": ");
    assertThatThrownBy(() -> SafetensorsDirectory.open(dir))
        .hasMessageContaining(index.toString())
        .hasMessageContaining("not valid JSON");
    Files.writeString(index, "{\"metadata\": {}}");
    assertThatThrownBy(() -> SafetensorsDirectory.open(dir)).hasMessageContaining("no weight_map");
    Files.delete(index);
    assertThatThrownBy(() -> SafetensorsDirectory.open(dir))
        .hasMessageContaining("neither model.safetensors nor model.safetensors.index.json");
  }
}
