package dev.tessera.engine.cuda;

/**
 * The storage of CUDA tensors: one device block. Views share it; when no tensor refers to it any
 * more the backend returns the block to its allocator (see {@link CudaBackend}).
 */
public final class DeviceBuffer {
  private final long address;
  private final long bytes;
  private final long usedBytes;
  private volatile boolean released;
  private Object owner;

  DeviceBuffer(long address, long bytes, long usedBytes) {
    this.address = address;
    this.bytes = bytes;
    this.usedBytes = usedBytes;
  }

  /** Device address of the first byte; refused once the buffer has been released. */
  public long address() {
    if (released) {
      throw new IllegalStateException(this + " was released and must not be used any more");
    }
    return address;
  }

  /** The backend's record of this buffer (what frees it). */
  Object owner() {
    return owner;
  }

  void owner(Object owner) {
    this.owner = owner;
  }

  /** Marks the buffer released; false when it already was. */
  synchronized boolean markReleased() {
    if (released) {
      return false;
    }
    released = true;
    return true;
  }

  /** Bytes of the tensor the buffer was allocated for. */
  public long usedBytes() {
    return usedBytes;
  }

  /** Size of the block in bytes (at least what the tensor needs). */
  public long bytes() {
    return bytes;
  }

  @Override
  public String toString() {
    return "DeviceBuffer[0x"
        + Long.toHexString(address)
        + ", "
        + bytes
        + " bytes"
        + (released ? ", released" : "")
        + "]";
  }
}
