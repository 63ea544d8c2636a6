package dev.tessera.engine.ops;

import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;

/** Checks shared by the op classes. */
final class Ops {
  private Ops() {}

  /** The CPU kernels read Java arrays; other devices get their launchers in their own backend. */
  static void requireCpu(Tensor... tensors) {
    for (Tensor tensor : tensors) {
      if (tensor.device() != Device.CPU) {
        throw new UnsupportedOperationException(
            "no " + tensor.device() + " kernel for this op yet");
      }
    }
  }
}
