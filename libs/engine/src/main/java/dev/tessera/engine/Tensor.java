package dev.tessera.engine;

import java.util.Arrays;
import java.util.Objects;

/**
 * A dense, row-major view of backend memory: a shape and an element offset into a storage buffer.
 * Views share storage, so a model can keep all parameters (or all gradients) in one flat buffer —
 * one pass for the optimizer, one collective for data parallelism — and still hand each layer its
 * own tensors.
 */
public final class Tensor {
  private final Backend backend;
  private final DType dtype;
  private final Object storage;
  private final long offset;
  private final int[] shape;
  private final long size;

  /**
   * For backends: wraps backend storage ({@code float[]} on the CPU).
   *
   * @param storage the backend's buffer
   * @param offset element offset of this view into the buffer
   * @param shape dimensions, outermost first
   */
  public Tensor(Backend backend, Object storage, long offset, int... shape) {
    this(backend, DType.F32, storage, offset, shape);
  }

  /**
   * For backends that store other element types (bf16 weights on a GPU): as above, with the
   * storage's element type.
   */
  public Tensor(Backend backend, DType dtype, Object storage, long offset, int... shape) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.dtype = Objects.requireNonNull(dtype, "dtype");
    this.storage = Objects.requireNonNull(storage, "storage");
    this.offset = offset;
    this.shape = shape.clone();
    long elements = 1;
    for (int dim : shape) {
      if (dim < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      elements *= dim;
    }
    this.size = elements;
  }

  public Backend backend() {
    return backend;
  }

  public Device device() {
    return backend.device();
  }

  /** Element type of the storage; CPU tensors are always {@link DType#F32}. */
  public DType dtype() {
    return dtype;
  }

  /** The backend buffer this view reads; only backends and ops look inside. */
  public Object storage() {
    return storage;
  }

  public long offset() {
    return offset;
  }

  public int[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  /** Dimension {@code axis}; negative axes count from the end. */
  public int dim(int axis) {
    return shape[axis < 0 ? shape.length + axis : axis];
  }

  /** Number of elements. */
  public long size() {
    return size;
  }

  /** Number of elements, for CPU kernels that index with {@code int}. */
  public int intSize() {
    return Math.toIntExact(size);
  }

  /** The same elements under another shape. */
  public Tensor view(int... newShape) {
    Tensor view = new Tensor(backend, dtype, storage, offset, newShape);
    if (view.size != size) {
      throw new IllegalArgumentException(
          "cannot view " + Arrays.toString(shape) + " as " + Arrays.toString(newShape));
    }
    return view;
  }

  /** {@code shape}-shaped elements starting {@code elementOffset} elements into this view. */
  public Tensor slice(long elementOffset, int... sliceShape) {
    Tensor slice = new Tensor(backend, dtype, storage, offset + elementOffset, sliceShape);
    if (elementOffset < 0 || elementOffset + slice.size > size) {
      throw new IllegalArgumentException(
          "slice of "
              + Arrays.toString(sliceShape)
              + " at "
              + elementOffset
              + " exceeds "
              + Arrays.toString(shape));
    }
    return slice;
  }

  /** Index {@code index} along the first axis, as a tensor of the remaining axes. */
  public Tensor get(int index) {
    int[] rest = Arrays.copyOfRange(shape, 1, shape.length);
    long stride = size / shape[0];
    return slice(index * stride, rest);
  }

  /** Throws unless this tensor has exactly {@code expected} as its shape. */
  public Tensor requireShape(String name, int... expected) {
    if (!Arrays.equals(shape, expected)) {
      throw new IllegalArgumentException(
          name
              + " has shape "
              + Arrays.toString(shape)
              + ", expected "
              + Arrays.toString(expected));
    }
    return this;
  }

  /** Throws unless this tensor has {@code expected} elements. */
  public Tensor requireSize(String name, long expected) {
    if (size != expected) {
      throw new IllegalArgumentException(
          name + " has " + size + " elements " + Arrays.toString(shape) + ", expected " + expected);
    }
    return this;
  }

  @Override
  public String toString() {
    return "Tensor" + Arrays.toString(shape) + ":" + dtype + "@" + device();
  }
}
