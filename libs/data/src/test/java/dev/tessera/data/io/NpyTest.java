package dev.tessera.data.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.data.testing.Python;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
  @TempDir Path dir;

  @Test
  void float32ArraysAreByteIdenticalToNpSave() throws Exception {
    Random random = new Random(3);
    int[][] shapes = {{7}, {3, 5}, {1, 1}, {12, 151}, {2, 3, 4}};
    for (int[] shape : shapes) {
      int size = 1;
      for (int d : shape) {
        size *= d;
      }
      float[] values = new float[size];
      for (int i = 0; i < size; i++) {
        values[i] = (float) random.nextGaussian() * 100;
      }
      Path ours = dir.resolve("ours.npy");
      Npy.writeFloat32(ours, values, shape);
      Path raw = dir.resolve("values.bin");
      java.nio.ByteBuffer bytes =
          java.nio.ByteBuffer.allocate(size * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      for (float v : values) {
        bytes.putFloat(v);
      }
      Files.write(raw, bytes.array());
      Path theirs = dir.resolve("theirs.npy");
      String shapeLiteral = java.util.Arrays.toString(shape).replace('[', '(').replace(']', ')');
      if (shape.length == 1) {
        shapeLiteral = "(" + shape[0] + ",)";
      }
      Python.run(
          List.of(
              Python.with("numpy", "python3-numpy"),
              "-c",
              "import numpy as np, sys; a = np.fromfile(sys.argv[1], dtype='<f4').reshape("
                  + shapeLiteral
                  + "); np.save(sys.argv[2], a)",
              raw.toString(),
              theirs.toString()));

      assertThat(Files.readAllBytes(ours))
          .as("shape %s", java.util.Arrays.toString(shape))
          .isEqualTo(Files.readAllBytes(theirs));
    }
  }

  @Test
  void shapeMustMatchTheValues() {
    assertThatThrownBy(() -> Npy.writeFloat32(dir.resolve("x.npy"), new float[5], 2, 3))
        .hasMessageContaining("holds 6 values, got 5");
  }
}
