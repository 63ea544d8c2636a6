package dev.tessera.model.io;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a safetensors file, as its header describes it.
 *
 * @param name the tensor's name (Hugging Face parameter name)
 * @param dtype element type
 * @param shape dimensions, outermost first (empty for a scalar)
 * @param byteOffset absolute position of the first byte in the file
 * @param byteLength number of bytes: elements × {@code dtype.bytes()}
 */
public record TensorInfo(
    String name, SafetensorsDType dtype, long[] shape, long byteOffset, long byteLength) {

  public TensorInfo {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** The shape as {@code int}s, for engine tensors; throws when a dimension does not fit. */
  public int[] intShape() {
    int[] dims = new int[shape.length];
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(name + " has dimension " + shape[i] + " beyond an int");
      }
      dims[i] = (int) shape[i];
    }
    return dims;
  }

  /** Number of elements (1 for a scalar). */
  public long elementCount() {
    long count = 1;
    for (long dim : shape) {
      count = Math.multiplyExact(count, dim);
    }
    return count;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof TensorInfo that
        && name.equals(that.name)
        && dtype == that.dtype
        && Arrays.equals(shape, that.shape)
        && byteOffset == that.byteOffset
        && byteLength == that.byteLength;
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, dtype, Arrays.hashCode(shape), byteOffset, byteLength);
  }

  @Override
  public String toString() {
    return name + " " + dtype + Arrays.toString(shape) + " @" + byteOffset + "+" + byteLength;
  }
}
