package dev.tessera.engine.cuda;

import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import java.util.Arrays;

/**
 * Measures the card's matrix rate through cuBLASLt on random operands (never zeros, which run
 * faster than real data): the bf16 peak that MFU is quoted against, and the rates of the fp32-
 * storage modes the backend uses. Median of repetitions after a warm-up, each timed on the device
 * between two events (no host launch or wait in the figure).
 */
public final class GemmRate {
  private GemmRate() {}

  /** What the operands are and how the product is computed. */
  public enum Mode {
    /** bf16 A and B, fp32 C, fp32 accumulation: the card's bf16 peak. */
    BF16_INPUTS,
    /** fp32 storage, bf16 tensor cores (what the backend's BF16 precision runs). */
    FP32_STORAGE_BF16,
    /** fp32 storage, TF32 tensor cores. */
    FP32_STORAGE_TF32,
    /** fp32 storage and arithmetic. */
    FP32
  }

  /** TFLOP/s of an {@code n × n × n} product, the median of {@code repeats} timed runs. */
  public static double tflops(CudaBackend cuda, Mode mode, int n, int repeats) {
    boolean bf16 = mode == Mode.BF16_INPUTS;
    DType inputType = bf16 ? DType.BF16 : DType.F32;
    Tensor a = cuda.allocate(inputType, n, n);
    Tensor b = cuda.allocate(inputType, n, n);
    Tensor c = cuda.zeros(n, n);
    fillRandom(cuda, a, 1);
    fillRandom(cuda, b, 2);
    CublasLt.Precision precision =
        switch (mode) {
          case BF16_INPUTS, FP32 -> CublasLt.Precision.FP32;
          case FP32_STORAGE_BF16 -> CublasLt.Precision.BF16;
          case FP32_STORAGE_TF32 -> CublasLt.Precision.TF32;
        };
    RowMajorGemm gemm = RowMajorGemm.packed(false, true, n, n, n);
    Runnable run =
        () ->
            cuda.cublasLt()
                .gemm(
                    gemm,
                    precision,
                    bf16,
                    1f,
                    cuda.address(a),
                    cuda.address(b),
                    0f,
                    cuda.address(c),
                    0L);
    for (int i = 0; i < 3; i++) {
      run.run();
    }
    cuda.synchronize();
    double[] seconds = new double[repeats];
    for (int i = 0; i < repeats; i++) {
      seconds[i] = cuda.deviceSeconds(run);
    }
    cuda.release(a, b, c);
    Arrays.sort(seconds);
    return 2.0 * n * n * n / seconds[repeats / 2] / 1e12;
  }

  /** Uniform values in [-1, 1), converted to bf16 on the device for bf16 tensors. */
  private static void fillRandom(CudaBackend cuda, Tensor tensor, int seed) {
    if (tensor.dtype() == DType.F32) {
      cuda.fillUniform(tensor, seed, -1f, 1f);
      return;
    }
    Tensor staging = cuda.zeros(tensor.shape());
    cuda.fillUniform(staging, seed, -1f, 1f);
    cuda.launch(
        "convert_f32_to_bf16",
        KernelLaunch.Shape.elementwise(tensor.size(), 256),
        cuda.address(staging),
        cuda.address(tensor),
        tensor.intSize());
    cuda.release(staging);
  }
}
