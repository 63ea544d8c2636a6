package dev.tessera.engine.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Status checks for every CUDA library call: each failure becomes a {@link CudaException} whose
 * message names the operation (what Tessera was doing) and the library's own error text.
 */
final class Cuda {
  private Cuda() {}

  /**
   * An address (device or pinned host memory) as a JavaCPP pointer, for {@code void*} arguments.
   */
  static Pointer at(long address) {
    return new Address(address);
  }

  private static final class Address extends Pointer {
    Address(long address) {
      this.address = address;
    }
  }

  /** A CUDA runtime API status ({@code cudaError_t}). */
  static void check(int status, String operation) {
    if (status != 0) {
      throw new CudaException(
          operation + " failed: " + runtimeError(status) + " (cudaError " + status + ")", status);
    }
  }

  /** A CUDA driver API status ({@code CUresult}). */
  static void checkDriver(int status, String operation) {
    if (status != 0) {
      throw new CudaException(
          operation + " failed: " + driverError(status) + " (CUresult " + status + ")", status);
    }
  }

  /** A cuBLAS / cuBLASLt status. */
  static void checkCublas(int status, String operation) {
    if (status != 0) {
      BytePointer text = cublas.cublasGetStatusString(status);
      throw new CudaException(
          operation
              + " failed: "
              + (text == null ? "unknown cuBLAS status" : text.getString())
              + " (cublasStatus "
              + status
              + ")",
          status);
    }
  }

  /** An NVRTC status; {@code log} is the compiler's output, if any. */
  static void checkNvrtc(int status, String operation, String log) {
    if (status != 0) {
      BytePointer text = nvrtc.nvrtcGetErrorString(status);
      throw new CudaException(
          operation
              + " failed: "
              + (text == null ? "unknown NVRTC status" : text.getString())
              + (log == null || log.isBlank() ? "" : "\n" + log),
          status);
    }
  }

  /** The innermost cause: for a failed library load, the message naming the missing file. */
  static Throwable rootCause(Throwable error) {
    Throwable cause = error;
    while (cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  static String runtimeError(int status) {
    BytePointer text = cudart.cudaGetErrorString(status);
    return text == null ? "unknown CUDA error" : text.getString();
  }

  static String driverError(int status) {
    try (PointerPointer<BytePointer> out = new PointerPointer<>(1)) {
      if (cudart.cuGetErrorString(status, out) == 0 && out.get(0) != null) {
        return out.get(BytePointer.class, 0).getString();
      }
    }
    return "unknown CUDA driver error";
  }
}
