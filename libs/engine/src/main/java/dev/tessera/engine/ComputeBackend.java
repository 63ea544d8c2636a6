package dev.tessera.engine;

import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cuda.CudaBackend;

/** Where a run computes: {@code --backend cpu|cuda}. */
public enum ComputeBackend {
  /** Java on the CPU cores (tests, the quickstart, small runs). */
  CPU,
  /**
   * One NVIDIA GPU per rank (rank r on GPU r modulo the GPUs present), bf16 tensor-core GEMMs with
   * fp32 accumulation and fp32 tensors.
   */
  CUDA;

  /** Opens the backend for {@code rank}; the caller closes it. */
  public Backend open(int rank) {
    return switch (this) {
      case CPU -> CpuBackend.get();
      case CUDA -> {
        // With no GPU, open() says what is missing (libraries or devices).
        int gpus = CudaBackend.deviceCount();
        yield CudaBackend.open(gpus == 0 ? 0 : rank % gpus, CudaBackend.GemmPrecision.BF16);
      }
    };
  }

  /** Parses {@code cpu} or {@code cuda} (any case). */
  public static ComputeBackend parse(String name) {
    for (ComputeBackend backend : values()) {
      if (backend.name().equalsIgnoreCase(name)) {
        return backend;
      }
    }
    throw new IllegalArgumentException("--backend must be cpu or cuda, got '" + name + "'");
  }
}
