package dev.tessera.engine;

import dev.tessera.engine.ops.DeviceKernels;

/**
 * Owns device memory and runs kernels. Model code allocates through a backend and calls ops; ops
 * dispatch on {@link Tensor#device()}. The CPU backend computes in fp32 on Java arrays; a CUDA
 * backend keeps bf16 or fp32 device buffers and launches kernels on its stream — model code does
 * not change.
 */
public interface Backend extends AutoCloseable {

  Device device();

  /** A new fp32 tensor filled with zeros. */
  Tensor zeros(int... shape);

  /**
   * A new fp32 tensor whose contents are undefined: for outputs that an op writes whole before
   * anything reads them (saves a device-wide zero fill per temporary on a GPU). The CPU backend
   * hands out a released array of the same length when it holds one (with its old values), else
   * zeros.
   */
  default Tensor empty(int... shape) {
    return zeros(shape);
  }

  /** A new fp32 tensor holding {@code values} (copied), row-major. */
  Tensor fromHost(float[] values, int... shape);

  /** Copies a tensor's values to a new host array, row-major. */
  float[] toHost(Tensor tensor);

  /** Copies {@code values} into {@code target} (sizes must match). */
  void copyFromHost(float[] values, Tensor target);

  /** Copies {@code source} into {@code target} on the device (sizes must match). */
  void copy(Tensor source, Tensor target);

  /** Sets every element to zero. */
  void zero(Tensor tensor);

  /**
   * The kernels the ops hand their work to when their tensors live on this backend. The CPU backend
   * has none: each op runs its own Java kernel.
   */
  default DeviceKernels kernels() {
    throw new UnsupportedOperationException("the " + device() + " backend supplies no kernels");
  }

  /**
   * Hands the memory of temporaries back before the garbage collector would: after this call the
   * tensors (and every view of their storage) must not be used again. On a GPU it keeps device
   * memory from filling with dead activations between collections; on the CPU the arrays are held
   * (softly, up to a quarter of the heap) for {@link #empty} to hand out again, which saves zeroing
   * and collecting the same temporaries every training step. Views into a larger buffer are
   * ignored.
   */
  default void release(Tensor... tensors) {}

  /**
   * Declares that no weight changes until the returned scope closes — the forward and backward
   * passes of one optimizer step, where only the optimizer writes weights and only after the scope.
   * A backend may keep what it derives from the weights across the scope's calls (the CUDA backend
   * keeps the bf16 copies its GEMMs read, instead of rounding each weight again for every product
   * that uses it); closing drops them. A scope opened inside another changes nothing. A no-op on
   * the CPU.
   */
  default WeightScope stableWeights() {
    return () -> {};
  }

  /**
   * Promises that {@code tensors} are not written again until they are released or the open {@link
   * #stableWeights} scope closes — saved activations, written once by the forward and read by the
   * backward — so a backend may keep what it derives from them for that long, as it does for the
   * weights. Without an open scope, and on the CPU, nothing happens.
   */
  default void markImmutable(Tensor... tensors) {}

  /**
   * Declares that {@code tensors} are written once more — by the next op that writes them, in full,
   * without reading them (an overwrite) — and after that only read as GEMM operands (a {@code
   * Matmul} input or output gradient) until they are released. Inside a {@link #stableWeights}
   * scope a backend may then keep them only in the form its GEMMs read: the CUDA backend with bf16
   * GEMMs writes just their bf16 values and refuses any other read. Implies {@link #markImmutable}
   * after that write. Without an open scope, and on the CPU, nothing happens.
   */
  default void onlyForGemms(Tensor... tensors) {}

  /** See {@link #stableWeights}. */
  interface WeightScope extends AutoCloseable {
    @Override
    void close();
  }

  /** Waits until all queued work has finished (a no-op on the CPU). */
  default void synchronize() {}

  @Override
  default void close() {}
}
