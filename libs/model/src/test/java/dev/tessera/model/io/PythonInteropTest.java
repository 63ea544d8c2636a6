package dev.tessera.model.io;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.testing.Python;
import dev.tessera.engine.DType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A pure-Python + numpy safetensors reader and writer agree with Tessera's, bit for bit. */
class PythonInteropTest {
  @TempDir Path dir;

  private Path script() throws IOException {
    Path script = dir.resolve("safetensors_interop.py");
    try (InputStream in = getClass().getResourceAsStream("/python/safetensors_interop.py")) {
      Files.copy(in, script);
    }
    return script;
  }

  private static float[] rawFloats(Path file) throws IOException {
    ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    float[] values = new float[bytes.remaining() / 4];
    bytes.asFloatBuffer().get(values);
    return values;
  }

  @Test
  void numpyReadsWhatTesseraWrites() throws Exception {
    String python = Python.with("numpy", "python3-numpy");
    Random random = new Random(3);
    float[] w = new float[24];
    float[] e = new float[15];
    float[] h = new float[8];
    for (float[] values : List.of(w, e, h)) {
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) random.nextGaussian();
      }
    }
    Path file = dir.resolve("tessera.safetensors");
    new SafetensorsWriter()
        .metadata("format", "pt")
        .add("layers.0.w", DType.F32, new int[] {2, 3, 4}, w)
        .add("embed", DType.BF16, new int[] {5, 3}, e)
        .add("half", DType.F16, new int[] {8}, h)
        .write(file);
    Path out = Files.createDirectory(dir.resolve("out"));
    Python.run(List.of(python, script().toString(), "read", file.toString(), out.toString()));

    JsonNode manifest = new ObjectMapper().readTree(out.resolve("manifest.json").toFile());
    assertThat(manifest.get("metadata").get("format").asText()).isEqualTo("pt");
    assertThat(manifest.get("order").toString()).isEqualTo("[\"layers.0.w\",\"embed\",\"half\"]");
    assertThat(manifest.get("tensors").get("embed").get("dtype").asText()).isEqualTo("BF16");
    assertThat(manifest.get("tensors").get("layers.0.w").get("shape").toString())
        .isEqualTo("[2,3,4]");
    assertThat(rawFloats(out.resolve("layers.0.w.f32"))).containsExactly(w);
    float[] bf = rawFloats(out.resolve("embed.f32"));
    float[] half = rawFloats(out.resolve("half.f32"));
    for (int i = 0; i < e.length; i++) {
      assertThat(bf[i]).isEqualTo(DType.bf16ToFloat(DType.floatToBf16(e[i])));
    }
    for (int i = 0; i < h.length; i++) {
      assertThat(half[i]).isEqualTo(DType.f16ToFloat(DType.floatToF16(h[i])));
    }
  }

  @Test
  void tesseraReadsWhatNumpyWrites() throws Exception {
    String python = Python.with("numpy", "python3-numpy");
    Path file = dir.resolve("numpy.safetensors");
    Path expected = Files.createDirectory(dir.resolve("expected"));
    Python.run(List.of(python, script().toString(), "write", file.toString(), expected.toString()));

    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertThat(st.names())
          .containsExactly(
              "model.embed_tokens.weight", "model.norm.weight", "vision.patch", "scalar");
      assertThat(st.metadata()).containsEntry("writer", "numpy").containsEntry("format", "pt");
      assertThat(st.info("vision.patch").shape()).containsExactly(2, 3, 2, 2);
      assertThat(st.info("scalar").shape()).isEmpty();
      for (String name : st.names()) {
        float[] values = st.readFloats(name);
        assertThat(values).as(name).containsExactly(rawFloats(expected.resolve(name + ".f32")));
        assertThat(values).as(name + " is not all zeros").isNotEqualTo(new float[values.length]);
      }
    }
  }
}
