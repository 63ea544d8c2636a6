package dev.tessera.engine.cpu;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;
import java.util.Arrays;

/** fp32 tensors on Java arrays; kernels in the op classes, vectorised with the Vector API. */
public final class CpuBackend implements Backend {
  private static final CpuBackend INSTANCE = new CpuBackend();

  /** Released temporaries' arrays for {@link #empty}: at most a quarter of the heap. */
  private final ReleasedArrays released =
      new ReleasedArrays(Runtime.getRuntime().maxMemory() / Float.BYTES / 4);

  private CpuBackend() {}

  public static CpuBackend get() {
    return INSTANCE;
  }

  @Override
  public Device device() {
    return Device.CPU;
  }

  @Override
  public Tensor zeros(int... shape) {
    return new Tensor(this, new float[size(shape)], 0, shape);
  }

  /**
   * A released array of the right length when there is one (its values are whatever was left in
   * it), else a new one. A training step allocates the same temporaries every step: reusing them
   * skips zeroing some 200 MB a step and the collections that follow, and the array handed out is
   * the one released last, still in cache.
   */
  @Override
  public Tensor empty(int... shape) {
    int size = size(shape);
    float[] array = released.take(size);
    return new Tensor(this, array != null ? array : new float[size], 0, shape);
  }

  /** Keeps the arrays of whole tensors (not views into a larger array) for {@link #empty}. */
  @Override
  public void release(Tensor... tensors) {
    for (Tensor tensor : tensors) {
      if (tensor != null
          && tensor.storage() instanceof float[] array
          && tensor.offset() == 0
          && array.length == tensor.size()) {
        released.give(array);
      }
    }
  }

  private static int size(int[] shape) {
    long size = 1;
    for (int dim : shape) {
      size *= dim;
    }
    if (size > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "CPU tensor of " + Arrays.toString(shape) + " exceeds one Java array");
    }
    return (int) size;
  }

  @Override
  public Tensor fromHost(float[] values, int... shape) {
    Tensor tensor = zeros(shape);
    copyFromHost(values, tensor);
    return tensor;
  }

  @Override
  public float[] toHost(Tensor tensor) {
    int offset = offset(tensor);
    return Arrays.copyOfRange(data(tensor), offset, offset + tensor.intSize());
  }

  @Override
  public void copyFromHost(float[] values, Tensor target) {
    target.requireSize("copy target", values.length);
    System.arraycopy(values, 0, data(target), offset(target), values.length);
  }

  @Override
  public void copy(Tensor source, Tensor target) {
    target.requireSize("copy target", source.size());
    System.arraycopy(data(source), offset(source), data(target), offset(target), source.intSize());
  }

  @Override
  public void zero(Tensor tensor) {
    int offset = offset(tensor);
    Arrays.fill(data(tensor), offset, offset + tensor.intSize(), 0f);
  }

  /** The array behind a CPU tensor. */
  public static float[] data(Tensor tensor) {
    if (!(tensor.storage() instanceof float[] array)) {
      throw new IllegalArgumentException(tensor + " is not a CPU tensor");
    }
    return array;
  }

  /** The tensor's first element's index in {@link #data}. */
  public static int offset(Tensor tensor) {
    return Math.toIntExact(tensor.offset());
  }
}
