package dev.tessera.engine.ops;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;

/** Checks shared by the op classes, and the dispatch to a device backend's kernels. */
final class Ops {
  private Ops() {}

  /**
   * Where an op runs: null when every tensor is a CPU tensor (the op runs its own Java kernel),
   * else the kernels of the one backend that holds them all. Null tensors (optional arguments) are
   * ignored; tensors on two different backends are refused.
   */
  static DeviceKernels deviceKernels(Tensor... tensors) {
    Backend backend = null;
    for (Tensor tensor : tensors) {
      if (tensor == null) {
        continue;
      }
      if (backend == null) {
        backend = tensor.backend();
      } else if (tensor.backend() != backend) {
        throw new IllegalArgumentException(
            "tensors of one op live on different backends: "
                + backend.device()
                + " and "
                + tensor.device()
                + " ("
                + tensor
                + ")");
      }
    }
    if (backend == null || backend.device() == Device.CPU) {
      return null;
    }
    return backend.kernels();
  }
}
