package dev.tessera.model.io;

import dev.tessera.engine.Tensor;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/** Named tensors on disk: one safetensors file, or a Hugging Face model directory of shards. */
public interface CheckpointReader extends Closeable {

  /** Where the tensors come from (a file or a directory). */
  Path path();

  /** Every tensor name, in file (or index) order. */
  Set<String> names();

  /** Whether a tensor of this name exists. */
  default boolean contains(String name) {
    return names().contains(name);
  }

  /** The header entry of {@code name}; throws {@link IOException} naming the file when absent. */
  TensorInfo info(String name) throws IOException;

  /** The tensor's values converted to fp32 (from F32, F16 or BF16, little-endian). */
  float[] readFloats(String name) throws IOException;

  /**
   * A one-value tensor (shape {@code []} or {@code [1]}), such as a model's {@code logit_scale}.
   */
  default float readScalar(String name) throws IOException {
    float[] values = readFloats(name);
    if (values.length != 1) {
      throw new IOException(path() + ": " + name + " has " + values.length + " values, expected 1");
    }
    return values[0];
  }

  /**
   * Converts the tensor's values to fp32 into {@code target}, which must have the same shape. CPU
   * tensors are filled in place without an intermediate array.
   */
  void readInto(String name, Tensor target) throws IOException;

  /** The {@code __metadata__} (or index {@code metadata}) string map; empty when there is none. */
  Map<String, String> metadata();

  @Override
  void close() throws IOException;
}
