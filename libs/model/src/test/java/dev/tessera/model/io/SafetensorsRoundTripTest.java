package dev.tessera.model.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.data.io.AtomicFiles;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
  @TempDir Path dir;
  private final Random random = new Random(7);

  private float[] randn(int n) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextGaussian() * 3f;
    }
    return values;
  }

  @Test
  void writesAndReadsF32Bf16F16WithMetadata() throws IOException {
    float[] f32 = randn(3 * 5);
    float[] bf16 = randn(4 * 7);
    float[] f16 = randn(2 * 3 * 2);
    float[] scalar = randn(1);
    Path file = dir.resolve("model.safetensors");
    new SafetensorsWriter()
        .metadata("format", "pt")
        .metadata("step", "42")
        .add("z.f32", DType.F32, new int[] {3, 5}, f32)
        .add("a.bf16", DType.BF16, new int[] {4, 7}, bf16)
        .add("m.f16", DType.F16, new int[] {2, 3, 2}, f16)
        .add("scalar", DType.F32, new int[] {}, scalar)
        .write(file);

    assertThat(Files.exists(AtomicFiles.inProgress(file))).isFalse();
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertThat(st.names()).containsExactly("z.f32", "a.bf16", "m.f16", "scalar");
      assertThat(st.metadata())
          .containsExactly(java.util.Map.entry("format", "pt"), java.util.Map.entry("step", "42"));
      assertThat(st.readFloats("z.f32")).containsExactly(f32);
      float[] widened = new float[bf16.length];
      for (int i = 0; i < bf16.length; i++) {
        widened[i] = DType.bf16ToFloat(DType.floatToBf16(bf16[i]));
      }
      assertThat(st.readFloats("a.bf16")).containsExactly(widened);
      float[] half = new float[f16.length];
      for (int i = 0; i < f16.length; i++) {
        half[i] = DType.f16ToFloat(DType.floatToF16(f16[i]));
      }
      assertThat(st.readFloats("m.f16")).containsExactly(half);
      assertThat(st.readFloats("scalar")).containsExactly(scalar);
      TensorInfo info = st.info("a.bf16");
      assertThat(info.dtype()).isEqualTo(SafetensorsDType.BF16);
      assertThat(info.shape()).containsExactly(4, 7);
      assertThat(info.byteLength()).isEqualTo(4 * 7 * 2);
      assertThat(st.info("z.f32").byteOffset() % 8).isZero();
      assertThat(info.byteOffset()).isEqualTo(st.info("z.f32").byteOffset() + 3 * 5 * 4);
      assertThat(st.bytes("z.f32").getFloat(4)).isEqualTo(f32[1]);
    }
  }

  @Test
  void headerIsPaddedWithSpacesToEightBytes() throws IOException {
    for (int nameLength = 1; nameLength <= 9; nameLength++) {
      Path file = dir.resolve("pad" + nameLength + ".safetensors");
      new SafetensorsWriter()
          .add("x".repeat(nameLength), DType.F32, new int[] {2}, randn(2))
          .write(file);
      byte[] bytes = Files.readAllBytes(file);
      long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
      assertThat(headerLength % 8).isZero();
      String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
      assertThat(header.stripTrailing()).endsWith("}");
      assertThat(header.substring(header.stripTrailing().length())).matches(" *");
      assertThat(bytes.length).isEqualTo(8 + headerLength + 8);
    }
  }

  @Test
  void tensorsRoundTripThroughCpuViews() throws IOException {
    CpuBackend cpu = CpuBackend.get();
    Tensor flat = cpu.fromHost(randn(40), 40);
    Tensor weight = flat.slice(8, 4, 6); // a view at an offset in a shared buffer
    Path file = dir.resolve("views.safetensors");
    new SafetensorsWriter().add("w", DType.F32, weight).write(file);

    Tensor target = cpu.fromHost(randn(50), 50);
    Tensor into = target.slice(10, 4, 6);
    float[] before = cpu.toHost(target);
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      st.readInto("w", into);
      assertThatThrownBy(() -> st.readInto("w", cpu.zeros(6, 4)))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("'w'")
          .hasMessageContaining("[4, 6]");
    }
    float[] after = cpu.toHost(target);
    assertThat(cpu.toHost(into)).containsExactly(cpu.toHost(weight));
    for (int i = 0; i < 50; i++) {
      if (i < 10 || i >= 34) {
        assertThat(after[i]).as("element %d outside the view", i).isEqualTo(before[i]);
      }
    }
  }

  @Test
  void readsAcrossManySmallMappingWindows() throws IOException {
    float[] big = randn(1001);
    float[] bf = randn(333);
    Path file = dir.resolve("windows.safetensors");
    new SafetensorsWriter()
        .add("big", DType.F32, new int[] {7, 143}, big)
        .add("bf", DType.BF16, new int[] {333}, bf)
        .write(file);
    try (SafetensorsFile st = SafetensorsFile.open(file, 60)) {
      assertThat(st.readFloats("big")).containsExactly(big);
      float[] got = st.readFloats("bf");
      for (int i = 0; i < bf.length; i++) {
        assertThat(got[i]).isEqualTo(DType.bf16ToFloat(DType.floatToBf16(bf[i])));
      }
    }
  }

  @Test
  void rewritingReplacesTheFileAtomically() throws IOException {
    Path file = dir.resolve("ckpt.safetensors");
    new SafetensorsWriter().add("a", DType.F32, new int[] {3}, randn(3)).write(file);
    float[] second = randn(5);
    new SafetensorsWriter().add("b", DType.F32, new int[] {5}, second).write(file);
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertThat(st.names()).containsExactly("b");
      assertThat(st.readFloats("b")).containsExactly(second);
    }
    try (var listing = Files.list(dir)) {
      assertThat(listing).containsExactly(file);
    }
  }

  @Test
  void writerRejectsBadInput() {
    SafetensorsWriter writer = new SafetensorsWriter().add("a", DType.F32, new int[] {2}, randn(2));
    assertThatThrownBy(() -> writer.add("a", DType.F32, new int[] {2}, randn(2)))
        .hasMessageContaining("added twice");
    assertThatThrownBy(() -> writer.add("b", DType.F32, new int[] {3, 3}, randn(8)))
        .hasMessageContaining("needs 9 values");
    assertThatThrownBy(() -> writer.add("__metadata__", DType.F32, new int[] {1}, randn(1)))
        .hasMessageContaining("invalid tensor name");
  }
}
