package dev.tessera.engine.cuda;

/**
 * The storage of CUDA tensors: one device block. Views share it; when no tensor refers to it any
 * more the backend returns the block to its allocator (see {@link CudaBackend}).
 */
public final class DeviceBuffer {
  private final long address;
  private final long bytes;

  DeviceBuffer(long address, long bytes) {
    this.address = address;
    this.bytes = bytes;
  }

  /** Device address of the first byte. */
  public long address() {
    return address;
  }

  /** Size of the block in bytes (at least what the tensor needs). */
  public long bytes() {
    return bytes;
  }

  @Override
  public String toString() {
    return "DeviceBuffer[0x" + Long.toHexString(address) + ", " + bytes + " bytes]";
  }
}
