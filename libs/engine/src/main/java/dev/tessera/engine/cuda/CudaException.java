package dev.tessera.engine.cuda;

/** A CUDA, cuBLASLt or NVRTC call failed; the message names the call and the library's error. */
public final class CudaException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int status;

  public CudaException(String message, int status) {
    super(message);
    this.status = status;
  }

  public CudaException(String message, Throwable cause) {
    super(message, cause);
    this.status = -1;
  }

  /** The library's status code, or -1 when the failure is not a status code. */
  public int status() {
    return status;
  }
}
